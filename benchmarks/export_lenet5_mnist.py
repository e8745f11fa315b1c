"""LeNet-5 trained on real MNIST, exported with automatic precision: C simulation on the full
10,000-image test set against PyTorch (targets: top-1 agreement >= 99.9%, csim accuracy within
0.1 percentage points of PyTorch's).

    python benchmarks/export_lenet5_mnist.py                     # trains runs/bench_lenet5_mnist if needed
    python benchmarks/export_lenet5_mnist.py --checkpoint runs/lenet5/train/model.pt

The export is exactly `codesign export --checkpoint CKPT --target fpga --dataset mnist
--csim-samples 10000 --out runs/bench_lenet5_mnist/export --force`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import save  # noqa: E402
from codesign.config import load_recipe  # noqa: E402
from codesign.export.pipeline import ExportRequest, run_export  # noqa: E402
from codesign.train import fit  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/bench_lenet5_mnist"))
    parser.add_argument("--samples", type=int, default=10000)
    args = parser.parse_args()
    torch.set_num_threads(2)
    checkpoint = args.checkpoint
    if checkpoint is None:
        checkpoint = args.run_dir / "train" / "model.pt"
        if not checkpoint.exists():
            fit(load_recipe("lenet5_mnist", {}), args.run_dir, resume=(args.run_dir / "train" / "ckpt.pt").exists())
    out = args.run_dir / "export"
    report = run_export(ExportRequest(out=out, target="fpga", checkpoint=checkpoint, dataset="mnist",
                                      csim_samples=args.samples, force=True))
    c, p = report["csim"], report["precision"]
    result = {"checkpoint": str(checkpoint), "weights": report["weights"], "samples": c["samples"],
              "top1_agreement": c["top1_agreement"], "accuracy_csim": c["accuracy_csim"],
              "accuracy_pytorch": c["accuracy_pytorch"],
              "accuracy_gap_pp": 100 * abs(c["accuracy_csim"] - c["accuracy_pytorch"]),
              "max_abs_error": c["max_abs_error"], "mean_abs_error": c["mean_abs_error"],
              "samples_per_second": c["samples_per_second"], "jobs": c["jobs"],
              "compile_seconds": c["compile_seconds"], "predict_seconds": c["predict_seconds"],
              "weight_width": p["weight_width"], "result_fractional_bits": p["result_fractional_bits"],
              "emulated_agreement_on_calibration": p["emulated_agreement"],
              "calibration_samples": p["calibration_samples"],
              "layers": [{k: r[k] for k in ("layer", "weight", "bias", "result")} for r in p["layers"]],
              "targets": {"top1_agreement": ">= 0.999", "accuracy_gap_pp": "<= 0.1"},
              "met": c["top1_agreement"] >= 0.999 and abs(c["accuracy_csim"] - c["accuracy_pytorch"]) <= 0.001}
    print({k: v for k, v in result.items() if k != "layers"})
    print(f"saved {save('export_lenet5_mnist', {'command': ' '.join(sys.argv), **result})}")


if __name__ == "__main__":
    main()
