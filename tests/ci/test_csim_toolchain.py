"""The C simulation toolchain (g++ with hls4ml's ap_types headers) works on this machine.

hls4ml's `compile()` builds every exported project with these two; this test names a broken
toolchain directly instead of leaving it to surface as an export failure.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

PROGRAM = r"""
#include <iomanip>
#include <iostream>
#include "ap_fixed.h"
int main() {
    typedef ap_fixed<16, 6, AP_RND_CONV, AP_SAT> fixed16;
    fixed16 a = 1.3, b = -2.75, big = 1000.0;
    std::cout << std::setprecision(17) << (a * b).to_double() << " " << big.to_double() << "\n";
    return 0;
}
"""


def ap_types_dir() -> Path:
    import hls4ml

    return Path(hls4ml.__file__).parent / "templates" / "vivado" / "ap_types"


def cxx_standard(compiler: str) -> str:
    """hls4ml's choice (templates/vivado/build_lib.sh): C++23 where g++ has it, else C++11."""
    probe = subprocess.run([compiler, "-Werror", "-fsyntax-only", "-std=c++23", "-xc++", "-"],
                           input="", capture_output=True, text=True)
    return "-std=c++23" if probe.returncode == 0 else "-std=c++11"


@pytest.mark.csim
def test_gxx_compiles_and_runs_hls4ml_fixed_point(tmp_path):
    compiler = shutil.which("g++")
    assert compiler, "g++ not found: hls4ml C simulation needs it (Debian: apt-get install g++)"
    source, binary = tmp_path / "fixed.cpp", tmp_path / "fixed"
    source.write_text(PROGRAM)
    flags = ["-O1", cxx_standard(compiler), f"-I{ap_types_dir()}"]
    build = subprocess.run([compiler, *flags, str(source), "-o", str(binary)],
                           capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    output = subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout
    product, saturated = map(float, output.split())
    lsb = 2.0 ** -10  # 16 bits, 6 of them integer: 10 fraction bits
    assert product == round(1.3 / lsb) * lsb * -2.75  # exact full-precision product
    assert saturated == 2.0 ** 5 - lsb  # AP_SAT clips at the largest value
