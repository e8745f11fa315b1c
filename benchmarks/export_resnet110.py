"""ResNet ONNX → written hls4ml project: codesign's passes vs the stock qonnx route, same run.

Stock route (ENVIRONMENT.md's recipe): qonnx cleanup_model → ConvertToChannelsLastAndClean
(make_input_channels_last) → GemmToMatMul → cleanup_model → hls4ml config + convert + write.
Ours: clean_graph → hls_ready (codesign.export.passes/layout) → the same hls4ml calls
(build_hls, with the precision either one fixed type, as the stock route, or chosen automatically
from 32 calibration samples). Both start from the same ONNX file and end with a written project.

The stock route is also profiled (cProfile, one extra run, --profile models); the time in qonnx's shape inference swap
(_hide_finn_ops/_restore_finn_ops, which print every node as text, including a Constant holding a
random tensor of each channels-last Conv's full output) is reported.

    python benchmarks/export_resnet110.py                          # resnet110: ours ×3, stock ×1
    python benchmarks/export_resnet110.py --models resnet20 resnet56 resnet110 --profile resnet20 resnet56
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import median, save  # noqa: E402
from codesign.export import HlsSettings, build_hls  # noqa: E402
from codesign.export.onnx import to_onnx_proto  # noqa: E402
from codesign.export.weights import resolve_model  # noqa: E402

FIXED = "fixed<16,6,RND_CONV,SAT>"


def stock_route(onnx_path: Path, out: Path) -> float:
    import hls4ml
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.transformation.gemm_to_matmul import GemmToMatMul
    from qonnx.util.cleanup import cleanup_model

    t0 = time.perf_counter()
    model = cleanup_model(ModelWrapper(str(onnx_path)))
    model = model.transform(ConvertToChannelsLastAndClean(make_input_channels_last=True))
    model = cleanup_model(model.transform(GemmToMatMul()))
    with contextlib.redirect_stdout(io.StringIO()):
        cfg = hls4ml.utils.config_from_onnx_model(model, granularity="name", backend="Vitis",
                                                  default_precision=FIXED)
        hls_model = hls4ml.converters.convert_from_onnx_model(model, output_dir=str(out), backend="Vitis",
                                                              io_type="io_stream", hls_config=cfg)
        hls_model.write()
    return time.perf_counter() - t0


def our_route(onnx_path: Path, out: Path, precision: str) -> float:
    t0 = time.perf_counter()
    build_hls(onnx_path, out, settings=HlsSettings(io_type="io_stream"), precision=precision,
              calibration=torch.randn(32, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    return time.perf_counter() - t0


def profiled_stock(onnx_path: Path, out: Path) -> dict:
    profile = cProfile.Profile()
    profile.enable()
    seconds = stock_route(onnx_path, out)
    profile.disable()
    stats = pstats.Stats(profile).stats

    def share(key: str) -> float:       # cumulative seconds of the function(s) named file:function
        return round(sum(v[3] for k, v in stats.items() if f"{Path(k[0]).name}:{k[2]}" == key), 1)

    return {"seconds": seconds, "profile_seconds": {
        "InferShapes.apply": share("infer_shapes.py:apply"),
        "_hide_finn_ops (str(node) of every node)": share("infer_shapes.py:_hide_finn_ops"),
        "_restore_finn_ops (str(node) of every node)": share("infer_shapes.py:_restore_finn_ops"),
        "move_transpose_past_eltwise (InferShapes per residual Add)":
            share("channels_last.py:move_transpose_past_eltwise")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resnet110"])
    parser.add_argument("--runs", type=int, default=3, help="runs of our route (median)")
    parser.add_argument("--stock-runs", type=int, default=1, help="runs of the stock route (slow)")
    parser.add_argument("--profile", nargs="*", default=["resnet20"],
                        help="models whose stock route is also run once under cProfile (adds overhead)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--save-as", default="export_resnet110", help="results file name (benchmarks/results/)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for name in args.models:
        model, source = resolve_model(name)
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            onnx_path = tmp / f"{name}.onnx"
            onnx_path.write_bytes(to_onnx_proto(model, (3, 32, 32)).SerializeToString())
            ours_fixed = [our_route(onnx_path, tmp / f"ours{i}", FIXED) for i in range(args.runs)]
            ours_auto = [our_route(onnx_path, tmp / f"auto{i}", "auto") for i in range(args.runs)]
            stock = [stock_route(onnx_path, tmp / f"stock{i}") for i in range(args.stock_runs)]
            profile = profiled_stock(onnx_path, tmp / "profiled") if name in args.profile else None
            shutil.rmtree(tmp, ignore_errors=True)
        stock_s = median(stock) if stock else None
        results[name] = {"ours_fixed_precision_s": ours_fixed, "ours_auto_precision_s": ours_auto,
                         "ours_fixed_median_s": median(ours_fixed), "ours_auto_median_s": median(ours_auto),
                         "stock_s": stock, "stock_median_s": stock_s, "stock_profiled": profile,
                         "speedup_fixed": stock_s / median(ours_fixed) if stock_s else None,
                         "speedup_auto": stock_s / median(ours_auto) if stock_s else None,
                         "weights": source.describe()}
        print(name, {k: v for k, v in results[name].items() if not isinstance(v, (list, dict))}, flush=True)
    path = save(args.save_as, {"command": " ".join(sys.argv), "threads": args.threads,
                                     "target_s": 120, "results": results})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
