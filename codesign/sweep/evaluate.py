"""Hardware evaluation of a made model: the simulator for every hardware point, the fixed-point
accuracy at each precision from the export's bit-exact emulation (default on), and (optionally)
hls4ml C simulation.

All run in workers. The simulator's batch API evaluates all hardware points of one model in one
call (devices, mappings, design searches and equivalent points are cached per process). A dataflow
point at a fixed-point precision is priced as ``codesign simulate --precision`` prices the model file:
the network the export builds at that precision (its types per layer; the nonzeros and shift-and-add
constants of the weights cast to them: :class:`codesign.export.estimate.ExportPlanner`, on the export's
calibration samples where the types depend on value ranges: ``auto``, bare widths). That network is made
once per (model file, precision) per process and shared by every device, reuse factor and strategy; a
``float`` or tiled point reads the float weights (as simulate does).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .. import atomic
from ..errors import CodesignError
from ..memo import Memo
from .plan import CsimTask, EmulateTask
from .models import torch_threads

_NETWORKS = Memo(64)
_PLANNERS = Memo(8)
_PLANNED = Memo(256)
WARNINGS_JOIN = " | "          # a row's warnings in one text column (a warning's own text may hold ';')
DROPPED = ("model", "device", "template", "reuse_factor", "precision", "strategy", "io_type", "clock_mhz",
           "zero_skip", "unroll", "dram_layout", "sparse_kernel")


def network_of(model_file: str):
    """The simulator's Network of a model file (cached per process by path and modification time)."""
    from ..checkpoint import load_model
    from ..sim.estimate import module_network

    key = (str(model_file), Path(model_file).stat().st_mtime)
    return _NETWORKS.get_or_make(key, lambda: module_network(load_model(model_file)[0],
                                                             source=f"checkpoint:{model_file}"))


def planned_network(model_file: str, precision: str, data_dir: Optional[str] = None):
    """(network, per-layer types) of what ``codesign export --precision PRECISION`` builds from the model
    file, as ``codesign simulate --checkpoint FILE --precision PRECISION`` plans it; cached per process by
    path, modification time, precision and data folder (the planner, shared by a file's precisions, too)."""
    from ..checkpoint import load_model
    from ..export.estimate import ExportPlanner

    file = (str(model_file), Path(model_file).stat().st_mtime, data_dir)

    def planner():
        model, meta = load_model(model_file)
        return ExportPlanner(model, meta, data_dir=Path(data_dir) if data_dir else None, emulate=False)

    def plan():
        planned = _PLANNERS.get_or_make(file, planner).plan(precision)
        return planned.network, planned.layers

    return _PLANNED.get_or_make(file + (precision,), plan)


FLOAT = "float weights"      # the network key of points priced on the float weights (float, tiled)


def simulate_points(model_file: str, items: Sequence[Tuple[str, Dict[str, Any]]], data_dir: Optional[str] = None,
                    threads: Optional[int] = None) -> List[Dict[str, Any]]:
    """One row of simulator totals per (point id, hardware axes); invalid points carry 'error' (so do the
    points of a precision the export cannot plan for this model, with its reason)."""
    from ..sim import DesignPoint, evaluate_batch

    networks: Dict[str, Any] = {}
    layers: Dict[str, Any] = {}
    failed: Dict[str, str] = {}
    points = []
    for _, hardware in items:
        given = _given(hardware)
        key = _network_key(given)
        if key not in networks and key not in failed:
            try:
                with torch_threads(1):         # as the model jobs: workers share the cores
                    networks[key], layers[key] = ((network_of(model_file), None) if key == FLOAT else
                                                  planned_network(model_file, key, data_dir))
            except CodesignError as err:
                failed[key] = f"the export's precision plan at {key} failed: {err}"
        points.append(DesignPoint(model=key, **given))
    rows = evaluate_batch([p for p in points if p.model not in failed], networks, errors="record",
                          layers={k: v for k, v in layers.items() if v})
    rows_iter = iter(rows)
    out = []
    for (pid, _), point in zip(items, points):
        row = {"error": failed[point.model]} if point.model in failed else sim_fields(next(rows_iter))
        out.append({"point_id": pid, **row})
    return out


def _network_key(given: Dict[str, Any]) -> str:
    """Which network a point is priced on: its precision's planned network (a dataflow point at a fixed-point
    precision, as simulate and export), else the float weights' (``FLOAT``)."""
    from .. import target
    from ..fixed_point import parse_precision

    precision = given.get("precision", target.DEFAULT_PRECISION)
    if given.get("template", target.DEFAULT_TEMPLATE) != "dataflow" or parse_precision(precision).is_float:
        return FLOAT
    return str(precision)


def _given(hardware: Dict[str, Any]) -> Dict[str, Any]:
    """A point's hardware axes as DesignPoint fields; an axis its template does not read (None) is left out."""
    given = {a: v for a, v in hardware.items() if v is not None}
    if "reuse_factor" in given:
        given["reuse_factor"] = int(given["reuse_factor"])
    return given


def sim_fields(row: Dict[str, Any]) -> Dict[str, Any]:
    out = {k: v for k, v in row.items() if k not in DROPPED}
    for key in ("over", "refused"):
        if key in out:
            out[key] = ";".join(out[key])
    if "warnings" in out:
        out["warnings"] = WARNINGS_JOIN.join(out["warnings"])
    utils = [out[k] for k in ("dsp_util", "bram_util", "lut_util", "ff_util") if k in out]
    if utils:
        out["util_max"] = max(utils)
    return out


def run_emulate(task: EmulateTask, model_file: str, data_dir: Optional[str] = None,
                threads: Optional[int] = None) -> Dict[str, Any]:
    """Fixed-point accuracy of the model at the task's precision (emulated), on the first samples of
    the test split its float accuracy comes from (the recipe's data; else the export's choice); cached."""
    from ..fixed_point import parse_precision

    if parse_precision(task.precision).is_float:      # a note in the point's row, not a failure
        return {"fixed_error": f"{task.precision}: float arithmetic has no fixed-point types to emulate (the point "
                               "is not ranked by fixed-point accuracy)"}
    result_file = Path(task.out_dir) / f"{task.key}.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    from ..checkpoint import load_model
    from ..export.accuracy import fixed_point_accuracy

    with torch_threads(threads or 1):
        model, meta = load_model(model_file)
        dataset, calibration, x, y = _emulation_data(task, model, meta, task.data_dir or data_dir)
        result = fixed_point_accuracy(model, task.precision, x, y, calibration).fields()
    result["fixed_dataset"] = dataset
    atomic.write_json(result_file, result)
    return result


def _emulation_data(task: EmulateTask, model, meta, data_dir: Optional[str]):
    """(dataset name, calibration inputs, test inputs, test labels or None)."""
    from ..export.accuracy import CALIBRATION_MAX

    if task.recipe is not None:
        from ..config import Recipe, validate
        from .models import load_splits

        recipe = validate(Recipe, task.recipe, f"emulation {task.key}")
        splits = load_splits(recipe, data_dir)
        (tx, _), (x, y) = splits.train, splits.test
        return recipe.data.name, tx[:CALIBRATION_MAX], x[:task.samples], y[:task.samples]
    from ..export.samples import choose_samples

    s = choose_samples(model, meta, None, n_calibration=CALIBRATION_MAX, n_csim=task.samples,
                       data_dir=Path(data_dir) if data_dir else None)
    return s.dataset, s.calibration, s.test_x, s.test_y


def run_csim(task: CsimTask, model_file: str, data_dir: Optional[str] = None,
             threads: Optional[int] = None) -> Dict[str, Any]:
    """Export the model to hls4ml at the task's precision and C-simulate it; cached in out_dir."""
    result_file = Path(task.out_dir) / f"{task.key}.json"
    if result_file.exists():
        return json.loads(result_file.read_text())
    with torch_threads(threads):
        return _csim(task, model_file, data_dir, result_file)


def _csim(task: CsimTask, model_file: str, data_dir: Optional[str], result_file: Path) -> Dict[str, Any]:
    from ..checkpoint import load_model
    from ..export import HlsSettings, build_hls, csim
    from ..export.samples import choose_samples, default_counts, macs_per_sample

    out = Path(task.out_dir)
    model, meta = load_model(model_file)
    in_shape = tuple(model.codesign_spec["in_shape"])
    counts = default_counts(macs_per_sample(model, in_shape))
    samples = choose_samples(model, meta, None, n_calibration=min(500, counts["calibration"]), n_csim=task.samples,
                             data_dir=Path(data_dir) if data_dir else None)
    project = build_hls(model, out / task.key / "hls", settings=HlsSettings(), precision=task.precision,
                        calibration=samples.calibration)
    report = csim(project, samples.test_x, model=model, labels=samples.test_y, jobs=task.jobs)
    result = {"csim_precision": task.precision, "csim_samples": report.samples, "csim_dataset": samples.dataset,
              "csim_accuracy": report.accuracy_csim, "csim_float_accuracy": report.accuracy_pytorch,
              "csim_agreement": report.top1_agreement, "csim_max_abs_error": report.max_abs_error}
    atomic.write_json(result_file, result)
    return result
