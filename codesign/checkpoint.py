"""Model files and training checkpoints.

``model.pt`` (what compact/export/simulate read): {"format": "codesign.model/1", "model_spec":
{name, width, in_shape, num_classes} of a zoo model, or {name, factory, kwargs, in_shape,
num_classes} of a user's factory (codesign.model_source), or {name, pickled, in_shape,
num_classes} with the module itself under "module", "state_dict", "source", ...}. Tensor shapes may differ from
the zoo's defaults after growth or pruning; loading conforms the fresh model to them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import torch
import torch.nn as nn

from . import atomic
from .errors import CodesignError, ConfigError
from .model_source import first_nonfinite
from .validate import finite, integer
from .units.resize import conform, key_mismatch

MODEL_FORMAT = "codesign.model/1"
CKPT_FORMAT = "codesign.ckpt/1"


def read(path: str | Path, expected_format: str | None = None) -> Dict[str, Any]:
    """The checked contents of a model file or training checkpoint (see :func:`check_contents`)."""
    path = Path(path)
    if not path.exists():
        raise CodesignError(f"checkpoint not found: {path}")
    if path.is_dir():
        raise CodesignError(f"{path} is a folder; give a model file (e.g. {path / 'train' / 'model.pt'})")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises many types for corrupt/truncated files
        raise CodesignError(f"checkpoint {path} is corrupt or not a codesign file ({type(err).__name__}); "
                            f"delete it or point at another file") from None
    if not isinstance(obj, dict) or "format" not in obj:
        raise CodesignError(f"{path} is not a codesign checkpoint (a plain state_dict? save it with "
                            f"codesign.checkpoint.save_model)")
    if expected_format and obj["format"] != expected_format:
        hint = (f"; use the model file beside it ({path.parent / 'model.pt'}), or continue training with "
                f"`codesign train ... --resume`" if obj["format"] == CKPT_FORMAT else "")
        raise CodesignError(f"{path} is a '{obj['format']}' file, expected '{expected_format}'{hint}")
    check_contents(obj, path)
    return obj


#: what each file format must hold: key -> (check, what it is)
_REQUIRED = {
    MODEL_FORMAT: ("model_spec", "state_dict"),
    CKPT_FORMAT: ("recipe", "model_spec", "epoch", "step", "model", "optimizer", "method", "history",
                  "train_flops", "elapsed"),
}


def check_contents(obj: Dict[str, Any], path: "str | Path") -> None:
    """A damaged or hand-edited file is a one-line error naming what is wrong, before any model is built:
    missing keys, entries of the wrong type, a malformed model_spec, and tensors that are not finite."""
    fmt = obj["format"]
    if fmt not in _REQUIRED:
        raise CodesignError(f"{path} has the unknown format {fmt!r}; expected {MODEL_FORMAT} or {CKPT_FORMAT}")
    missing = [k for k in _REQUIRED[fmt] if k not in obj]
    if missing:
        raise CodesignError(f"{path} is damaged: it lacks {', '.join(repr(k) for k in missing)}; use another file "
                            f"or make it again")
    spec = obj["model_spec"]
    pickled = spec is None or (isinstance(spec, dict) and spec.get("pickled"))
    if pickled and fmt == MODEL_FORMAT and not isinstance(obj.get("module"), nn.Module):
        raise _damaged(path, "it records a module built by hand but holds no pickled module")
    if spec is not None:                          # None: an older file with a hand-built module pickled whole
        _check_spec(spec, path)
    _check_state(obj["state_dict" if fmt == MODEL_FORMAT else "model"], path)
    if fmt == CKPT_FORMAT:
        _check_ckpt(obj, path)


def _damaged(path, what: str) -> CodesignError:
    return CodesignError(f"{path} is damaged: {what}; use another file or make it again")


def _check_spec(spec: Any, path) -> None:
    if not isinstance(spec, dict):
        raise _damaged(path, f"model_spec is a {type(spec).__name__}, not a mapping")
    try:
        if not isinstance(spec.get("name"), str) or not spec["name"]:
            raise ConfigError(f"model_spec.name must be a model name, got {spec.get('name')!r}")
        finite(spec.get("width", 1.0), "model_spec.width", low=0, low_open=True)
        shape = spec.get("in_shape")
        if not isinstance(shape, (list, tuple)) or not 1 <= len(shape) <= 3:
            raise ConfigError(f"model_spec.in_shape must be a list of 1 to 3 sizes, got {shape!r}")
        for d in shape:
            integer(d, "model_spec.in_shape sizes", low=1, high=1 << 20)
        integer(spec.get("num_classes"), "model_spec.num_classes", low=1, high=1 << 20)
        if "factory" in spec and (not isinstance(spec["factory"], str) or not isinstance(spec.get("kwargs", {}), dict)):
            raise ConfigError(f"model_spec.factory must be 'FILE.py:FUNCTION' with a mapping of kwargs, got "
                              f"{spec['factory']!r}")
    except ConfigError as err:
        raise _damaged(path, str(err)) from None


def _check_state(state: Any, path) -> None:
    if not isinstance(state, dict) or not state:
        raise _damaged(path, f"its weights are a {type(state).__name__}, not a mapping of tensors")
    for key, tensor in state.items():
        if not isinstance(key, str) or not isinstance(tensor, torch.Tensor):
            raise _damaged(path, f"weight entry {key!r} is a {type(tensor).__name__}, not a tensor")
    key = first_nonfinite(state)
    if key is not None:
        raise CodesignError(f"{path}: tensor '{key}' holds NaN or infinite values (a diverged training run?); "
                            f"use an earlier checkpoint or train again with a lower learning rate")


def _check_ckpt(obj: Dict[str, Any], path) -> None:
    types = {"recipe": dict, "optimizer": dict, "method": dict, "history": list}
    for key, kind in types.items():
        if not isinstance(obj[key], kind):
            raise _damaged(path, f"'{key}' is a {type(obj[key]).__name__}, not a {kind.__name__}")
    try:
        integer(obj["epoch"], "epoch")
        integer(obj["step"], "step")
        finite(obj["elapsed"], "elapsed", low=0)
        flops = obj["train_flops"]
        if not isinstance(flops, (list, tuple)) or len(flops) != 2:
            raise ConfigError(f"train_flops must be a pair of numbers, got {flops!r}")
        for v in flops:
            finite(v, "train_flops", low=0)
    except ConfigError as err:
        raise _damaged(path, str(err)) from None


def model_from_state(spec: Dict[str, Any], state_dict: Dict[str, torch.Tensor], source: "str | Path" = "checkpoint",
                     module: Optional[nn.Module] = None) -> nn.Module:
    """The model of ``spec`` (a zoo model, a factory's, or the pickled ``module`` itself) with the weights
    of ``state_dict`` (tensor sizes may differ from a fresh model's after growth or pruning); a file whose
    tensors do not fit the model is a one-line error."""
    from .model_source import build_from_spec

    model = module if module is not None else build_from_spec(spec)
    wrong = key_mismatch(model, state_dict)
    if wrong:                                      # the file's tensors are not those of the model it records
        raise CodesignError(f"{source} does not match model '{spec['name']}' it records: tensors {wrong}; the file "
                            f"is damaged or was edited, make it again")
    _check_dtypes(model, spec["name"], state_dict, source)
    try:
        conform(model, state_dict)
        model.load_state_dict(state_dict)
    except CodesignError:
        raise
    except (RuntimeError, ValueError, IndexError, TypeError, KeyError) as err:
        raise CodesignError(f"{source} does not match model '{spec['name']}': "
                            f"{(str(err).strip().splitlines() or [type(err).__name__])[0]}") from None
    _trial_forward(model, spec, source)
    model.codesign_spec = dict(spec)
    return model


def _check_dtypes(model: nn.Module, name: str, state_dict: Dict[str, torch.Tensor], source) -> None:
    expected = model.state_dict()
    for key, tensor in state_dict.items():
        if key in expected and expected[key].is_floating_point() and not tensor.is_floating_point():
            raise CodesignError(f"{source}: tensor '{key}' has type {tensor.dtype}, expected floating point; "
                                f"the file is damaged or was not written by codesign")
        if key in expected and expected[key].dim() != tensor.dim():
            raise CodesignError(f"{source} does not match model '{name}': tensor '{key}' has "
                                f"{tensor.dim()} dimensions, the model's has {expected[key].dim()}")


def _trial_forward(model: nn.Module, spec: Dict[str, Any], source) -> None:
    """One zero input through the loaded model: tensors that do not fit together (a layer resized in one file
    entry but not in the next) fail here, in one line, instead of deep inside an export or a shape pass."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, *[int(d) for d in spec["in_shape"]]))
    except (RuntimeError, ValueError, IndexError) as err:
        raise CodesignError(f"{source}: its tensors do not fit together "
                            f"({(str(err).strip().splitlines() or [''])[0]}); the file is damaged") from None
    finally:
        model.train(was)
    if not isinstance(out, torch.Tensor) or out.reshape(1, -1).shape[1] != int(spec["num_classes"]):
        raise CodesignError(f"{source}: the model gives outputs of shape {tuple(out.shape)[1:]}, but its "
                            f"model_spec says {spec['num_classes']} classes; the file is damaged")


def check_resumable(ckpt_path: str | Path, recipe: Any) -> None:
    """``--resume`` continues the run in the checkpoint exactly, so it refuses another ``train.epochs``: the
    learning-rate schedule (cosine) and a method's phases are laid out over the whole run, and a finished run
    'resumed' with more epochs would silently train on a new schedule. (``fit`` checks the other sections.)"""
    ckpt_path = Path(ckpt_path)
    if not ckpt_path.exists():
        return
    ckpt = read(ckpt_path, CKPT_FORMAT)
    saved = (ckpt["recipe"].get("train") or {}).get("epochs")
    now = recipe.train.epochs
    if saved != now:
        finished = (ckpt_path.parent / "model.pt").exists()
        state = "finished" if finished else f"stopped after epoch {ckpt['epoch']}"
        raise CodesignError(f"{ckpt_path} belongs to a run of {saved} epoch(s) ({state}); --resume continues that "
                            f"run exactly and cannot change train.epochs to {now}, because the learning-rate "
                            f"schedule and the method's phases span the whole run; rerun with --epochs {saved}, or "
                            f"start a new {now}-epoch run with --force or another --out")


def save_model(path: str | Path, model: nn.Module, source: str, in_shape: Optional[Sequence[int]] = None,
               **extra: Any) -> None:
    """A model file that records how to rebuild the model: a zoo name, a factory (import path and
    arguments), or for a module built by hand the module itself (pickled under ``module``; its
    class must be importable where the file is loaded). ``in_shape``: one sample's shape, for a
    model whose spec does not record it."""
    from .model_source import spec_of

    key = first_nonfinite(model.state_dict())
    if key is not None:
        raise CodesignError(f"not saving {path}: tensor '{key}' holds NaN or infinite values (training "
                            f"diverged?); lower the learning rate or check the data")
    spec = spec_of(model, in_shape)
    whole = {"module": model} if spec.get("pickled") else {}
    atomic.torch_save(path, {"format": MODEL_FORMAT, "model_spec": spec, "in_shape": spec["in_shape"],
                             "state_dict": model.state_dict(), "source": source, **whole, **extra})


def load_model(path: str | Path) -> tuple[nn.Module, Dict[str, Any]]:
    """(model in eval mode, the file's metadata without the tensors)."""
    obj = read(path, MODEL_FORMAT)
    module = obj.get("module") if isinstance(obj.get("module"), nn.Module) else None
    spec = obj.get("model_spec")
    if spec is None:                               # an older file: a hand-built module pickled whole, no spec
        model = module.eval()
        spec = {"name": type(module).__name__, "pickled": True, "in_shape": obj.get("in_shape")}
        model.codesign_spec = dict(spec)
    else:
        model = model_from_state(spec, obj["state_dict"], path, module).eval()
    meta = {k: v for k, v in obj.items() if k not in ("state_dict", "module")}
    meta["model_spec"] = spec
    return model, meta
