"""C simulation throughput (samples/s) of LeNet-5 and ResNet-20: codesign's csim with one worker
process and with one per core, and hls4ml's own predict() on the same compiled project.

    python benchmarks/export_csim_throughput.py                     # lenet5 (500 samples), resnet20 (16)

The project is built and compiled once per model (compile time reported); each measurement runs
the samples through the compiled library, median of --repeats runs.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import median, save  # noqa: E402
from codesign.export import build_hls  # noqa: E402
from codesign.export.csim import compile_project, predict  # noqa: E402
from codesign.export.hls import as_graph_input  # noqa: E402
from codesign.export.samples import macs_per_sample  # noqa: E402
from codesign.export.weights import resolve_model  # noqa: E402

SAMPLES = {"lenet5": 500, "resnet20": 16}


def hls4ml_predict_rate(project, x, repeats: int) -> float:
    """Baseline: hls4ml's own ModelGraph.compile() + predict() (one process, in the caller)."""
    with contextlib.redirect_stdout(io.StringIO()):
        project.hls_model.compile()
    data = np.ascontiguousarray(as_graph_input(x, project.input_layout).reshape(len(x), -1).double().numpy())
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        project.hls_model.predict(data)
        rates.append(len(x) / (time.perf_counter() - t0))
    return median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(SAMPLES))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    results = {}
    for name in args.models:
        model, source = resolve_model(name)
        shape = model.codesign_spec["in_shape"]
        x = torch.randn(SAMPLES.get(name, 32), *shape, generator=torch.Generator().manual_seed(0))
        with tempfile.TemporaryDirectory() as tmp:
            project = build_hls(model, Path(tmp) / "hls", calibration=torch.randn(64, *shape))
            t0 = time.perf_counter()
            lib = compile_project(project)
            compile_s = time.perf_counter() - t0
            entry = {"weights": source.describe(), "io_type": project.settings.io_type, "samples": len(x),
                     "macs_per_sample": macs_per_sample(model, shape), "compile_seconds": compile_s}
            for jobs in sorted({1, os.cpu_count() or 1}):
                rates = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    predict(project, lib, x, jobs=jobs)
                    rates.append(len(x) / (time.perf_counter() - t0))
                entry[f"samples_per_second_jobs{jobs}"] = median(rates)
                entry[f"runs_jobs{jobs}"] = rates
            entry["hls4ml_predict_samples_per_second"] = hls4ml_predict_rate(project, x, args.repeats)
        results[name] = entry
        print(name, entry, flush=True)
    print(f"saved {save('export_csim_throughput', {'command': ' '.join(sys.argv), 'results': results})}")


if __name__ == "__main__":
    main()
