"""The simulator's section of the fpga export report: device by part, report files, the fitting hint
(the export side, what the estimate is given, is tested in tests/export/test_estimate.py)."""
from __future__ import annotations

import json
import re

import pytest

from codesign.sim import Mapping, estimate, load_device, load_network
from codesign.sim.device import device_for_part
from codesign.sim.export_section import estimate_section, fitting_hint


@pytest.mark.parametrize("part,device", [
    ("xc7z020clg400-1", "xc7z020"),            # the board's own part
    ("xc7z020clg484-2", "xc7z020"),            # same die, other package / grade
    ("xcvu13p-flga2577-2-e", "xcu250"),        # hls4ml's default part: the U250's die
    ("xcvu9p-flga2104-2L-e", "xcu200"),
])
def test_device_for_part(part, device):
    found, how = device_for_part(part)
    assert found is not None and found.name == device and part in how


def test_unknown_part_has_no_device():
    found, how = device_for_part("xc7a35tcpg236-1")
    assert found is None and "no shipped device" in how


def test_hint_names_the_smallest_power_of_two_reuse_factor_that_fits():
    # LeNet-300-100 needs more than the xc7z020's 53,200 LUTs at every reuse factor (its 400 outputs' accumulators
    # and the 784-way input select alone are ~45k, dataflow_resources' fitted model): the ZCU102's part
    network, device = load_network("lenet300_100"), load_device("xczu9eg")
    hint = fitting_hint(network, device, Mapping(precision="8/14"))
    reuse = int(re.search(r"--reuse-factor (\d+)", hint).group(1))

    def fits(rf):
        return estimate(network, device, strategy="Resource", reuse_factor=rf, precision="8/14").totals["fits"]

    assert fits(reuse) and (reuse == 2 or not fits(reuse // 2))


def test_section_writes_the_report_of_the_device_for_the_part(tmp_path):
    network = load_network("jet_mlp")
    mapping = Mapping(reuse_factor=4, clock_mhz=100.0, precision="ap_fixed<10,4>")
    section = estimate_section(network, mapping, "xc7z020clg400-1", tmp_path, "test")
    expected = estimate(network, "xc7z020", mapping).totals
    assert section["device"] == "xc7z020" and section["dsp"] == round(expected["dsp"])
    assert section["latency_us"] == pytest.approx(expected["latency_s"] * 1e6)
    assert section["precision"] == "per layer from the project: weights 10 bits, results 10 bits"
    written = json.loads((tmp_path / "sim" / "report.json").read_text())
    assert written["device"]["name"] == "xc7z020" and (tmp_path / "sim" / "roofline.png").exists()


def test_the_reports_header_says_the_types_are_the_projects_per_layer(tmp_path, nets):
    """R10: the export's sim/report.md said 'precision fixed<16,6>' (hls4ml's Model default) where every layer has
    its own types; the header now says what the estimate priced, as the section does."""
    from codesign.sim import Network

    network = Network("m", (nets.dense("fc1", None, 16, 8), nets.dense("fc2", "fc1", 8, 4)), (16, 1, 1))
    mapping = Mapping.from_hls_config({"Model": {"Precision": "fixed<16,6>"}, "LayerName": {
        "fc1": {"Precision": {"weight": "fixed<9,2>", "bias": "fixed<9,2>", "result": "fixed<12,4>"}},
        "fc2": {"Precision": {"weight": "fixed<7,2>", "bias": "fixed<7,2>", "result": "fixed<10,4>"}}}})
    section = estimate_section(network, mapping, "xc7z020clg400-1", tmp_path, "test")
    header = next(line for line in (tmp_path / "sim" / "report.md").read_text().splitlines() if "mapping:" in line)
    assert section["precision"] == "per layer from the project: weights 7-9 bits, results 10-12 bits"
    assert f"precision {section['precision']}," in header and "fixed<16,6>" not in header


def test_sim_never_imports_the_export():
    import subprocess
    import sys

    code = ("import sys, codesign.sim, codesign.sim.export_section, codesign.sim.plan, codesign.sim.dataflow; "
            "print(sorted(m for m in sys.modules if m.startswith('codesign.export')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
