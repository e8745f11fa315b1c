"""Model files and training checkpoints.

``model.pt`` (what compact/export/simulate read): {"format": "codesign.model/1", "model_spec":
{name, width, in_shape, num_classes}, "state_dict", "source", ...}. Tensor shapes may differ from
the zoo's defaults after growth or pruning; loading conforms the fresh model to them.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import torch
import torch.nn as nn

from . import atomic
from .errors import CodesignError
from .units.resize import conform
from .zoo import create_model

MODEL_FORMAT = "codesign.model/1"
CKPT_FORMAT = "codesign.ckpt/1"


def read(path: str | Path, expected_format: str | None = None) -> Dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise CodesignError(f"checkpoint not found: {path}")
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
    return obj


def model_from_state(spec: Dict[str, Any], state_dict: Dict[str, torch.Tensor]) -> nn.Module:
    model = create_model(spec["name"], width=spec.get("width", 1.0), in_shape=spec["in_shape"],
                         num_classes=spec["num_classes"])
    conform(model, state_dict)
    try:
        model.load_state_dict(state_dict)
    except RuntimeError as err:
        raise CodesignError(f"checkpoint does not match model '{spec['name']}': {str(err).splitlines()[0]}") from None
    model.codesign_spec = dict(spec)
    return model


def save_model(path: str | Path, model: nn.Module, source: str, **extra: Any) -> None:
    """A zoo model is saved as its spec and state_dict; any other module is pickled whole
    (``module``; loading it needs its class importable under the same name)."""
    spec = getattr(model, "codesign_spec", None)
    whole = {} if spec is not None else {"module": model}
    atomic.torch_save(path, {"format": MODEL_FORMAT, "model_spec": dict(spec) if spec is not None else None,
                             "state_dict": model.state_dict(), "source": source, **whole, **extra})


def load_model(path: str | Path) -> tuple[nn.Module, Dict[str, Any]]:
    """(model in eval mode, the file's metadata without the tensors)."""
    obj = read(path, MODEL_FORMAT)
    if obj.get("model_spec") is None and isinstance(obj.get("module"), nn.Module):
        model = obj["module"].eval()
    else:
        model = model_from_state(obj["model_spec"], obj["state_dict"]).eval()
    meta = {k: v for k, v in obj.items() if k not in ("state_dict", "module")}
    return model, meta
