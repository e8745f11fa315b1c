"""Compaction: a physically smaller dense model that computes what the masked model computes.

``compact(model, masks)`` removes, group by group and until nothing changes:
- units whose unit mask is off;
- units nothing reads (every consumer column is zero: Han et al.'s "no out-connections");
- units that always output zero (producer rows, biases and BatchNorm weight/bias zero, and only
  zero-preserving ops before their consumers: "no in-connections").
Zeros left by unstructured pruning stay exact zeros. The result is checked automatically against
the masked model on random inputs (eval mode) and a mismatch raises. ``write_compact`` also writes
``model.pt`` (a zoo model file: ``codesign.checkpoint.load_model`` reads it) and ``shapes.json``.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn

from . import atomic
from .errors import CodesignError
from .events import Events, quiet, say
from .flops import model_cost
from .units.engine import UnitEngine
from .layertypes import COMPUTE, NORMS
from .rundir import RunDir
from .units.graph import UnitGroup
from .units.masks import Masks

MAX_PASSES = 20


def compact(model: nn.Module, masks: Optional[Masks] = None, *, example: Any = None, check: bool = True,
            samples: int = 8, seed: int = 0) -> Tuple[nn.Module, Dict[str, Any]]:
    """(dense smaller copy of ``model`` with ``masks`` applied, shapes manifest). ``model`` is untouched."""
    reference = copy.deepcopy(model).eval()
    engine_ref = UnitEngine(reference, example, graph=masks.graph if masks is not None else None)
    if masks is not None:
        engine_ref.masks.load_state_dict(masks.state_dict())
        engine_ref.apply_masks()
    small = copy.deepcopy(reference)
    engine = UnitEngine(small, graph=engine_ref.graph)
    engine.masks.load_state_dict(engine_ref.masks.state_dict())
    before = {g.name: engine.size(g) for g in engine.graph.groups}
    for _ in range(MAX_PASSES):
        if not _remove_pass(engine):
            break
    engine.masks.clear()   # every unit left is on; connection zeros are in the weights already
    in_shape = tuple(engine.graph.in_shape)
    manifest = _manifest(reference, small, engine, before, in_shape)
    if check:
        manifest["equivalence"] = check_equivalence(reference, small, in_shape, samples, seed)
    if hasattr(model, "codesign_spec"):
        small.codesign_spec = dict(model.codesign_spec)
    return small, manifest


def _remove_pass(engine: UnitEngine) -> bool:
    changed = False
    for g in engine.groups():
        live = engine.masks.unit_mask(g) & ~_dead_units(engine, g)
        if not live.any():
            live[0] = True      # a group keeps one (silent) unit; zero-width layers are not supported
        if not live.all():
            engine.keep(g, live.nonzero().flatten())
            changed = True
    return changed


def _dead_units(engine: UnitEngine, g: UnitGroup) -> torch.Tensor:
    """Units whose removal cannot change any output."""
    dead = torch.zeros(engine.size(g), dtype=torch.bool)
    if g.consumers:
        reads = engine.unit_sum(g, lambda ax, t: t.detach().abs(), roles=("consumer",))
        dead |= reads == 0
    affine = all(getattr(engine.model.get_submodule(f), "weight", None) is not None for f in g.followers)
    if g.zero_preserving and affine:
        writes = engine.unit_sum(g, lambda ax, t: t.detach().abs(), roles=("producer", "follower"))
        dead |= writes == 0
    return dead


def check_equivalence(reference: nn.Module, small: nn.Module, in_shape, samples: int = 8, seed: int = 0
                      ) -> Dict[str, float]:
    """Max |Δ| of the two models' outputs on random inputs; raises when above float tolerance."""
    gen = torch.Generator().manual_seed(seed)
    dtype = next(reference.parameters()).dtype
    x = torch.randn(samples, *in_shape, generator=gen, dtype=dtype)
    with torch.no_grad():
        a, b = reference.eval()(x), small.eval()(x)
    if a.shape != b.shape:
        raise CodesignError(f"compaction changed the output shape {tuple(a.shape)} → {tuple(b.shape)}; "
                            f"this is a bug in codesign, please report it")
    diff = float((a - b).abs().max())
    tolerance = 1e-4 * (1.0 + float(a.abs().max()))
    if not diff <= tolerance:
        raise CodesignError(f"compaction check failed: compact and masked outputs differ by {diff:.3g} "
                            f"(tolerance {tolerance:.3g}); this is a bug in codesign, please report it")
    return {"samples": samples, "max_abs_diff": diff, "tolerance": tolerance}


def _layer_shapes(model: nn.Module) -> Dict[str, Dict[str, List[int]]]:
    out = {}
    for name, module in model.named_modules():
        if isinstance(module, COMPUTE + NORMS):
            out[name] = {k: list(v.shape) for k, v in module.named_parameters(recurse=False)}
    return out


def _manifest(reference: nn.Module, small: nn.Module, engine: UnitEngine, before: Dict[str, int],
              in_shape) -> Dict[str, Any]:
    old, new = model_cost(reference, in_shape), model_cost(small, in_shape)
    spec = getattr(reference, "codesign_spec", None)
    return {
        "model": spec["name"] if spec else type(reference).__name__, "in_shape": list(in_shape),
        "groups": [{"name": g.name, "before": before[g.name], "after": engine.size(g), "prunable": g.prunable}
                   for g in engine.graph.groups],
        "layers": _layer_shapes(small),
        "params_before": old.params, "params_after": new.params, "nonzeros": new.nonzeros,
        "flops_dense_before": old.flops_dense, "flops_dense_after": new.flops_dense,
        "flops_sparse": new.flops_sparse,
    }


def write_compact(out_dir: str | Path, model: nn.Module, masks: Optional[Masks] = None, *, example: Any = None,
                  check: bool = True, samples: int = 8, trained: Optional[Dict[str, Any]] = None,
                  **meta: Any) -> Dict[str, Any]:
    """Compact ``model`` and write ``out_dir``/model.pt and ``out_dir``/shapes.json; returns the manifest.
    ``trained``: the training run's summary (its model file's metrics), whose size at the start of training
    the manifest keeps as ``params_start`` / ``flops_dense_start``."""
    from .checkpoint import save_model

    small, manifest = compact(model, masks, example=example, check=check, samples=samples)
    manifest.update(_start_size(trained or {}))
    out_dir = Path(out_dir)
    save_model(out_dir / "model.pt", small, source="compact", shapes=manifest, in_shape=manifest["in_shape"], **meta)
    atomic.write_json(out_dir / "shapes.json", manifest)
    return manifest


def _start_size(summary: Dict[str, Any]) -> Dict[str, Any]:
    """The size a training run started from (its recipe's architecture), where the run recorded it."""
    if summary.get("start_params") is None:
        return {}
    return {"params_start": summary["start_params"], "flops_dense_start": summary.get("start_flops_dense")}


def size_line(manifest: Dict[str, Any]) -> str:
    """Params and dense FLOPs through compaction, from the start of training where the manifest knows it:
    a method that removes units while it trains leaves little for compaction itself to remove."""
    sizes = [(manifest["params_before"], manifest["flops_dense_before"], "trained"),
             (manifest["params_after"], manifest["flops_dense_after"], "compact")]
    if manifest.get("params_start") is not None:
        sizes.insert(0, (manifest["params_start"], manifest.get("flops_dense_start"), "at the start of training"))
    else:
        sizes = [(p, f, "") for p, f, _ in sizes]
    params = " → ".join(f"{p:,}" + (f" {label}" if label else "") for p, _, label in sizes)
    flops = " → ".join(f"{f:.4g}" for _, f, _ in sizes if f is not None)
    return f"params {params}  nonzeros {manifest['nonzeros']:,}  dense FLOPs {flops}"


def resolve_model_file(path: str | Path) -> Tuple[Path, Path]:
    """(model file, default output folder) for a run directory or a model file."""
    path = Path(path)
    if path.is_dir():
        run = RunDir(path)
        for candidate in (run.trained_model, path / "model.pt"):
            if candidate.exists():
                return candidate, run.compact
        raise CodesignError(f"{path} holds no train/model.pt; pass a run directory of `codesign train` or a model file")
    if not path.exists():
        raise CodesignError(f"not found: {path}; pass a run directory of `codesign train` or a model file")
    run = RunDir(path.parent.parent if path.parent.name == "train" else path.parent)
    return path, run.compact


def _masks_of(model: nn.Module, meta: Dict[str, Any]) -> Optional[Masks]:
    if not meta.get("masks"):
        return None
    engine = UnitEngine(model, meta.get("in_shape"))
    engine.masks.load_state_dict(meta["masks"])
    return engine.masks


def compact_file(path: str | Path, out_dir: str | Path | None = None, *, check: bool = True, samples: int = 8,
                 model: Optional[str] = None, model_args: Optional[Dict[str, Any]] = None,
                 in_shape: Optional[Tuple[int, ...]] = None) -> Tuple[Path, Dict[str, Any]]:
    """Compact a run's model (with the masks saved beside it), or any weights file (a plain
    state_dict of ``model``, a pickled module: their zero units are removed); returns (output
    folder, manifest)."""
    from .model_source import load_any

    model_file, default_out = resolve_model_file(path)
    loaded, meta = load_any(model_file, model, model_args, in_shape)
    recorded = (getattr(loaded, "codesign_spec", None) or {}).get("in_shape")
    if in_shape is not None and recorded is not None and tuple(in_shape) != tuple(recorded):
        raise CodesignError(f"--input-shape {','.join(map(str, in_shape))} differs from the input shape "
                            f"{','.join(map(str, recorded))} that {model_file} records; drop --input-shape")
    shape = in_shape or recorded
    if shape is None:
        from .model_source import unknown_input_shape
        raise unknown_input_shape(f"the {type(loaded).__name__} in {model_file}", loaded)
    out = Path(out_dir) if out_dir is not None else default_out
    manifest = write_compact(out, loaded, _masks_of(loaded, {**meta, "in_shape": list(shape)}), example=shape,
                             check=check, samples=samples, trained=meta.get("metrics"), compacted_from=str(model_file))
    return out, manifest


def compact_run(run_dir: str | Path, events: Events = quiet) -> Dict[str, Any]:
    """The compaction stage of a run directory, after training: when the method pruned anything,
    ``train/model.pt`` (with its masks) is compacted into ``compact/`` and the compact size is added
    to ``train/cost.json``. Returns what it added to the run's summary ({} when nothing was pruned)."""
    from .checkpoint import load_model

    run = RunDir(run_dir)
    model, meta = load_model(run.trained_model)
    if not meta.get("pruned", bool(meta.get("masks"))):
        return {}
    manifest = write_compact(run.compact, model, _masks_of(model, meta), example=meta.get("in_shape"),
                             trained=meta.get("metrics"), recipe=meta.get("recipe"))
    added = {"compact_params": manifest["params_after"], "compact_flops_dense": manifest["flops_dense_after"]}
    if run.cost.exists():
        atomic.write_json(run.cost, {**json.loads(run.cost.read_text()), **added})
    say(events, f"compacted: {size_line(manifest)} ({run.compact})")
    return added
