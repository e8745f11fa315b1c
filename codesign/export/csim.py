"""C simulation of an hls4ml project (g++ only) and its agreement with PyTorch.

hls4ml's ``compile`` script builds the project's bridge library; the samples then run through it
in worker processes (one per core by default), so a crash inside the generated C++ (a SIGILL, SIGSEGV or
a failed assertion of hls4ml's templates) becomes a one-line error instead of killing the caller, and the
cores work in parallel. A model codesign's checks let through should never crash: a crash is reported as
codesign's bug (:class:`~codesign.errors.InternalError`, exit code 1), not as bad input (exit code 2).
"""
from __future__ import annotations

import ctypes
import os
import shutil
import time
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import torch

from .. import procs, written
from ..errors import ExportError, InternalError
from ..events import Events, quiet
from .hls import HlsProject, as_graph_input
from .precision import clearly_below


@dataclass(frozen=True)
class CsimReport:
    samples: int
    top1_agreement: float              # csim argmax == PyTorch argmax
    max_abs_error: float               # over all outputs of all samples, vs PyTorch
    mean_abs_error: float
    accuracy_csim: Optional[float]     # with labels
    accuracy_pytorch: Optional[float]
    compile_seconds: float
    predict_seconds: float
    samples_per_second: float
    jobs: int
    outputs: Optional[np.ndarray] = field(default=None, repr=False, compare=False)   # csim outputs
    target_agreement: Optional[float] = None      # --target-agreement, which the agreement is checked against
    emulation_mismatches: Optional[int] = None    # samples whose outputs differ from the emulation of the types
    warnings: Tuple[str, ...] = ()                 # what the agreement check found (see :func:`agreement_warnings`)

    def summary(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k != "outputs"}
        out["warnings"] = list(self.warnings)
        return out


def require_gxx() -> str:
    gxx = shutil.which("g++")
    if gxx is None:
        raise ExportError("C simulation needs g++, which is not on PATH; install it (e.g. apt-get install g++) "
                          "or use --target hls to write the project without simulating it")
    return gxx


def compile_project(project: HlsProject) -> Path:
    """Build the project's C simulation library with hls4ml's build_lib.sh (g++), as hls4ml's FPGA backends
    do, but in a process group of its own: an interrupted or failed export kills the compiler instead of
    leaving it running (codesign.procs), and the compiler's output is kept out of the terminal."""
    require_gxx()
    config = project.hls_model.config
    folder = Path(config.get_output_dir())
    name = config.get_project_name()
    lib = f"firmware/{name}-{config.get_config_value('Stamp')}.so"
    # what build_lib.sh writes (its .o files until it ends), recorded before it starts: --force may replace them
    written.add(folder, [f"{name}.o", f"{name}_bridge.o", lib])
    result = procs.run_command(["bash", "./build_lib.sh"], cwd=folder)
    if result.returncode != 0:
        last = " | ".join(line.strip() for line in result.stdout.strip().splitlines()[-3:])
        raise ExportError(f"g++ could not compile the hls4ml project in {folder} (exit {result.returncode}: "
                          f"{last}); run ./build_lib.sh there to see all compiler errors")
    return folder / lib


def _run_chunk(lib: str, function: str, x: np.ndarray, n_out: int) -> np.ndarray:
    """Worker: load the bridge library and run samples one by one (hls4ml's calling convention)."""
    top = getattr(ctypes.CDLL(lib), function)
    arg = np.ctypeslib.ndpointer(ctypes.c_double, flags="C_CONTIGUOUS")
    top.argtypes, top.restype = [arg, arg], None
    out = np.zeros((len(x), n_out), dtype=np.float64)
    for i in range(len(x)):
        row = np.zeros(n_out, dtype=np.float64)
        top(np.ascontiguousarray(x[i], dtype=np.float64), row)
        out[i] = row
    return out


def predict(project: HlsProject, lib: Path, x: torch.Tensor, jobs: int = 0, events: Events = quiet) -> np.ndarray:
    """Run NCHW samples ``x`` through the compiled library in ``jobs`` processes (0: all cores)."""
    data = as_graph_input(x.float(), project.input_layout).reshape(len(x), -1).double().numpy()
    n_out = int(project.hls_model.get_output_variables()[0].size())
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(x)))
    chunk = max(1, min(64, -(-len(x) // (jobs * 4))))
    pieces: List[np.ndarray] = []
    function = f"{project.settings.project_name}_double"
    pool = procs.pool(jobs, "fork")
    try:
        futures = [pool.submit(_run_chunk, str(lib), function, data[i:i + chunk], n_out)
                   for i in range(0, len(data), chunk)]
        for k, future in enumerate(futures):
            pieces.append(future.result())
            events("csim", {"done": min((k + 1) * chunk, len(data)), "total": len(data)})
    except BrokenProcessPool:
        procs.terminate_pool(pool)
        raise InternalError(f"the C simulation of {project.path} crashed (a signal in the generated C++, e.g. an "
                            f"assertion of hls4ml's templates, printed above) although codesign's checks passed the "
                            f"model: a bug in codesign, please report it with the model; meanwhile --target hls "
                            f"writes the project without simulating it") from None
    except BaseException:               # interrupted: stop the workers now instead of finishing the samples
        procs.terminate_pool(pool)
        raise
    pool.shutdown(wait=True)
    return np.concatenate(pieces) if pieces else np.zeros((0, n_out))


def csim(project: HlsProject, inputs: torch.Tensor, *, reference: Optional[torch.Tensor] = None,
         model: Optional[torch.nn.Module] = None, labels: Optional[torch.Tensor] = None, jobs: int = 0,
         events: Events = quiet, target_agreement: Optional[float] = None) -> CsimReport:
    """Compile ``project``, simulate NCHW ``inputs`` and compare with PyTorch: ``reference``
    outputs, or ``model``'s outputs on the same inputs; then with the emulation of the project's types on the
    same inputs and with ``target_agreement`` (the report's ``warnings``)."""
    if reference is None:
        if model is None:
            raise ExportError("csim needs the PyTorch reference: pass reference outputs or the model")
        with torch.no_grad():
            reference = torch.cat([model.eval()(inputs[i:i + 256].float()) for i in range(0, len(inputs), 256)])
    events("stage", {"stage": "compile"})
    t0 = time.perf_counter()
    lib = compile_project(project)
    compiled = time.perf_counter() - t0
    events("stage", {"stage": "csim", "samples": len(inputs)})
    t0 = time.perf_counter()
    got = predict(project, lib, inputs, jobs, events)
    predicted = time.perf_counter() - t0
    ref = reference.double().numpy()
    per_sample = int(np.prod(ref.shape[1:]))
    if got.shape[1] != per_sample:
        raise InternalError(f"the C simulation of {project.path} returns {got.shape[1]} values per sample where the "
                            f"model returns {per_sample} {tuple(ref.shape[1:])}: hls4ml built a different network, "
                            f"a bug in codesign; please report it with the model")
    report = compare(as_model_output(got, ref.shape, project.input_layout), ref.reshape(len(inputs), -1), labels,
                     compiled, predicted, max(1, min(jobs or os.cpu_count() or 1, len(inputs))))
    emulated = _emulated(project, inputs)
    mismatches = None if emulated is None else int(np.any(report.outputs != emulated, axis=1).sum())
    checked = replace(report, target_agreement=target_agreement, emulation_mismatches=mismatches)
    return replace(checked, warnings=tuple(agreement_warnings(checked, project.precision.emulated_agreement, emulated)))


def _emulated(project: HlsProject, inputs: torch.Tensor) -> Optional[np.ndarray]:
    """The emulation of the project's types on ``inputs`` (model output order), None without its graph."""
    from .emulate import Emulator, batched

    if project.graph is None or not len(inputs):
        return None
    emu = Emulator(project.graph.graph, project.graph.fused_bias)
    x = as_graph_input(inputs.float(), project.graph.input_layout)
    return batched(lambda b: emu.run(b, project.precision.types), x).double().numpy().reshape(len(inputs), -1)


def agreement_warnings(report: CsimReport, emulated_agreement: Optional[float],
                       emulated: Optional[np.ndarray] = None) -> List[str]:
    """One line per finding: outputs that differ from the emulation of the chosen types (it is bit-exact where
    the precision report says so), and a top-1 agreement clearly below ``--target-agreement`` or the emulated
    agreement (:func:`clearly_below`)."""
    out, n, got = [], report.samples, report.top1_agreement
    if report.emulation_mismatches:
        diff = float(np.abs(report.outputs - emulated).max())
        out.append(f"the C simulation differs from the emulation of the chosen types on {report.emulation_mismatches:,} "
                   f"of {n:,} samples (max |difference| {diff:.3g}): the emulated agreement is not the hardware's")
    below = []
    if report.target_agreement is not None and clearly_below(got, report.target_agreement, n):
        below.append(f"--target-agreement {report.target_agreement:g}")
    if emulated_agreement is not None and clearly_below(got, emulated_agreement, n):
        below.append(f"the emulated agreement {emulated_agreement:.4f}")
    if below:
        out.append(f"C simulation top-1 agreement {got:.4f} on {n:,} samples is below {' and '.join(below)}")
    return out


def as_model_output(got: np.ndarray, shape, layout: str) -> np.ndarray:
    """C-simulation outputs (one flat row per sample, in the graph's layout) in the model's element order: a
    channels-last graph (``layout`` 'nhwc') keeps a feature-map output NHWC; PyTorch's is NCHW (the inverse of
    :func:`~codesign.export.hls.as_graph_input`)."""
    if layout != "nhwc" or len(shape) < 3:
        return got
    n, c, *spatial = shape
    rank = len(shape)
    return got.reshape(n, *spatial, c).transpose(0, rank - 1, *range(1, rank - 1)).reshape(n, -1)


def compare(got: np.ndarray, ref: np.ndarray, labels: Optional[torch.Tensor], compile_s: float,
            predict_s: float, jobs: int) -> CsimReport:
    n = len(got)
    err = np.abs(got - ref)
    acc_c = acc_p = None
    if labels is not None and n:
        y = labels.numpy()[:n]
        acc_c, acc_p = float((got.argmax(1) == y).mean()), float((ref.argmax(1) == y).mean())
    return CsimReport(n, float((got.argmax(1) == ref.argmax(1)).mean()) if n else 1.0,
                      float(err.max()) if n else 0.0, float(err.mean()) if n else 0.0, acc_c, acc_p,
                      compile_s, predict_s, n / predict_s if predict_s > 0 else 0.0, jobs, got)
