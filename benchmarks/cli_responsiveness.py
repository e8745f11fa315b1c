"""How fast the command line answers, measured as whole processes (start-up included), side by side.

1. ``codesign simulate --model lenet5 --template tiled`` with and without the roofline plot, against
   SCALE-Sim (PyPI ``scalesim``, a cycle-accurate systolic-array simulator) on the same network:
   LeNet-5's convolution and fully connected layers, taken from codesign's own layer list, written
   in SCALE-Sim's topology CSV format (a fully connected layer is a convolution whose filter covers
   its whole input). SCALE-Sim runs with the configuration its repository ships as the default
   (``configs/scale.cfg``: a 32×32 output-stationary array, 64 kB SRAMs) and, as a second point,
   the Google TPU v1 configuration (``configs/google.cfg``: 256×256, weight stationary).
2. ``codesign list models|datasets|methods|devices|recipes``.

The commands alternate (A, B, C, A, B, C, ...) so that a busy machine slows all of them alike; the
medians are reported, of the wall time and of the CPU time (user + system, the process and the children it
waited for). On a shared machine the CPU time is the steadier number: with other jobs on every core, wall
time also counts the time a command waited for a core. SCALE-Sim lives in its own virtual environment, never beside codesign:

    python -m venv ENV && ENV/bin/pip install scalesim 'numpy<2' 'pandas<3'
    python benchmarks/cli_responsiveness.py --scalesim-python ENV/bin/python [--repeats 7]

(scalesim 3.0.0 stops with "only 0-dimensional arrays can be converted to Python scalars" under
numpy 2.) Results: ``benchmarks/results/cli_responsiveness.json``.
"""
from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"

SCALESIM_ARRAYS = {   # name: (height, width, dataflow, SRAM kB ifmap/filter/ofmap, bandwidth mode)
    "scale.cfg (32x32 os)": (32, 32, "os", (64, 64, 64), "CALC"),
    "google.cfg (256x256 ws)": (256, 256, "ws", (6144, 6144, 2048), "USER"),
}
LAYOUT_HEADER = ("Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor, Filter Height Intraline "
                 "Factor, Filter Width Intraline Factor, Channel Intraline Factor, Num Filter Intraline Factor, "
                 "IFMAP Height Intraline Order, IFMAP Width Intraline Order, Channel Intraline Order, IFMAP Height "
                 "Interline Order, IFMAP Width Interline Order, Channel Interline Order, Num Filter Intraline Order, "
                 "Channel Intraline Order, Filter Height Intraline Order, Filter Width Intraline Order, Num Filter "
                 "Interline Order, Channel Interline Order, Filter Height Interline Order, Filter Width Interline "
                 "Order,")


def scalesim_config(name: str) -> str:
    rows, cols, dataflow, (ifmap, filt, ofmap), bandwidth = SCALESIM_ARRAYS[name]
    return f"""[general]
run_name = lenet5

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: {ifmap}
FilterSramSzkB: {filt}
OfmapSramSzkB: {ofmap}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth : 10
Dataflow : {dataflow}
MemoryBanks: 1
ReadRequestBuffer: 512
WriteRequestBuffer: 512

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[run_presets]
InterfaceBandwidth: {bandwidth}
UseRamulatorTrace: False
"""


def lenet5_topology() -> List[List]:
    """LeNet-5's conv and dense layers as SCALE-Sim rows, from codesign's layer list of the zoo model."""
    from codesign.sim import zoo_network

    rows = []
    for layer in zoo_network("lenet5").layers:
        c, h, w = layer.in_shape
        if layer.op == "conv":
            rows.append([layer.name, h, w, layer.kernel[0], layer.kernel[1], c, layer.out_shape[0], layer.stride[0]])
        elif layer.op == "dense":      # the whole (C, H, W) input is one filter position
            rows.append([layer.name, h, w, h, w, c, layer.out_shape[0], 1])
    return rows


def write_scalesim_inputs(folder: Path) -> Dict[str, Path]:
    rows = lenet5_topology()
    topo = folder / "lenet5.csv"
    topo.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
                    "Strides,\n" + "".join(", ".join(map(str, r)) + ",\n" for r in rows))
    layout = folder / "lenet5_layout.csv"
    layout.write_text(LAYOUT_HEADER + "\n" + "".join(f"{r[0]}, 1, 1, 1, 1, 1, 1, 0, 1, 2, 4, 5, 3, 3, 2, 1, 0, 4, 5, "
                                                     f"6, 7,\n" for r in rows))
    paths = {"topology": topo, "layout": layout}
    for i, name in enumerate(SCALESIM_ARRAYS):
        paths[name] = folder / f"scalesim_{i}.cfg"
        paths[name].write_text(scalesim_config(name))
    return paths


def _cpu_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: List[str], cwd: Path, env: Dict[str, str]) -> Tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``args``."""
    cpu, start = _cpu_children(), time.perf_counter()
    done = subprocess.run(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds, cpu = time.perf_counter() - start, _cpu_children() - cpu
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return seconds, cpu


def commands(work: Path, scalesim_python: str | None) -> Dict[str, List[str]]:
    py = sys.executable
    sim = [py, "-m", "codesign", "simulate", "--model", "lenet5", "--template", "tiled", "--device", "xc7z020",
           "--force"]
    cmds = {"codesign simulate (roofline plot)": [*sim, "--out", str(work / "plot")],
            "codesign simulate --no-plot": [*sim, "--no-plot", "--out", str(work / "noplot")]}
    if scalesim_python:
        files = write_scalesim_inputs(work)
        for name in SCALESIM_ARRAYS:
            out = work / f"scalesim_out_{len(cmds)}"
            out.mkdir(exist_ok=True)
            cmds[f"SCALE-Sim {name}"] = [scalesim_python, "-m", "scalesim.scale", "-t", str(files["topology"]),
                                          "-l", str(files["layout"]), "-c", str(files[name]), "-p", str(out),
                                          "-s", "N"]
    for what in ("models", "datasets", "methods", "devices", "recipes"):
        cmds[f"codesign list {what}"] = [py, "-m", "codesign", "list", what]
    return cmds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--scalesim-python", help="python of a virtual environment with scalesim installed")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cmds = commands(work, args.scalesim_python)
        times: Dict[str, List[float]] = {name: [] for name in cmds}
        cpu: Dict[str, List[float]] = {name: [] for name in cmds}
        load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
        for name, cmd in cmds.items():           # warm-up: page cache, matplotlib's font cache, .pyc files
            timed(cmd, work, env)
        for _ in range(args.repeats):
            for name, cmd in cmds.items():
                wall, used = timed(cmd, work, env)
                times[name].append(wall)
                cpu[name].append(used)
    medians = {name: statistics.median(values) for name, values in times.items()}
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    ratios = {}
    for name in SCALESIM_ARRAYS if args.scalesim_python else ():
        ratios[name] = {f"{kind}_{which}": table[f"SCALE-Sim {name}"] / table[command]
                        for kind, table in (("wall", medians), ("cpu", cpu_medians))
                        for which, command in (("plot", "codesign simulate (roofline plot)"),
                                               ("no_plot", "codesign simulate --no-plot"))}
    for name, value in medians.items():
        print(f"{name:42s} median {value:6.3f} s wall, {cpu_medians[name]:6.3f} s CPU   "
              f"({', '.join(f'{t:.2f}' for t in times[name])})")
    for name, r in ratios.items():
        print(f"SCALE-Sim {name} / codesign: wall {r['wall_plot']:.1f}x with the plot, {r['wall_no_plot']:.1f}x with "
              f"--no-plot; CPU {r['cpu_plot']:.1f}x and {r['cpu_no_plot']:.1f}x")
    RESULTS.mkdir(exist_ok=True)
    import json

    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    (RESULTS / "cli_responsiveness.json").write_text(json.dumps({
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": sys.version.split()[0], "load_average_before": load_before,
                    "load_average_after": load},
        "repeats": args.repeats, "seconds": times, "cpu_seconds": cpu, "median_s": medians,
        "median_cpu_s": cpu_medians, "scalesim_over_codesign": ratios,
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
