"""Where the exported model's weights come from, said in every report: a trained checkpoint, an
embedded default shipped with codesign, or a seeded random initialisation.

Embedded defaults (package data, float16 to stay small) exist for the MNIST models, trained with
the shipped recipes; models for data that is not available everywhere (CIFAR ResNets and VGG, the
jet-tagging MLP) start from a random initialisation with a fixed seed and say so.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from .. import atomic
from ..checkpoint import MODEL_FORMAT, load_model
from ..errors import ConfigError
from ..zoo import MODELS, create_model

# model name → (asset file, how it was made)
EMBEDDED = {
    "lenet5": ("default_lenet5.pt", "LeNet-5 trained on MNIST with `codesign train lenet5_mnist` "
                                    "(12 epochs), weights stored as float16"),
    "lenet300_100": ("default_lenet300_100.pt", "LeNet-300-100 trained on MNIST with `codesign train "
                                                "lenet300_100_mnist` (20 epochs), weights stored as float16"),
}


@dataclass(frozen=True)
class WeightSource:
    kind: str                      # 'trained checkpoint' | 'embedded default' | 'random init'
    detail: str
    meta: Dict[str, Any]

    def describe(self) -> str:
        return f"{self.kind}: {self.detail}"

    def summary(self) -> dict:
        return {"kind": self.kind, "detail": self.detail,
                "test_acc_at_training": (self.meta.get("metrics") or {}).get("test_acc")}


def builder_default(name: str, argument: str) -> Any:
    """The zoo builder's default for ``argument`` (each model's native input shape, classes)."""
    return inspect.signature(MODELS.get(name)).parameters[argument].default


def resolve_model(name: Optional[str], checkpoint: Optional[Path] = None, width: Optional[float] = None,
                  seed: int = 0, *, model_args: Optional[Dict[str, Any]] = None,
                  in_shape: Optional[Sequence[int]] = None, dataset: Optional[str] = None,
                  data_dir: Optional[Path] = None) -> Tuple[nn.Module, WeightSource]:
    """The model to export and where its weights come from. ``name``: a zoo name or a model factory
    (FILE.py:FUNCTION); ``checkpoint``: a codesign model file, a plain state_dict (of ``name``) or a
    pickled module. The input shape: the model's record, ``in_shape``, else the dataset's."""
    from ..model_source import build_model, is_factory, load_any

    if checkpoint is not None:
        if width is not None:
            raise ConfigError("--width applies to models without --checkpoint (the checkpoint fixes the size)")
        model, meta = load_any(checkpoint, name, model_args, in_shape)
        _with_input_shape(model, in_shape, dataset, data_dir)
        return model, WeightSource("trained checkpoint", f"{checkpoint} ({meta.get('source', 'unknown')})", meta)
    if name is None:
        raise ConfigError("give --model NAME (codesign list models) or FILE.py:FUNCTION, --checkpoint FILE or "
                          "--onnx FILE")
    if is_factory(name):
        torch.manual_seed(seed)
        shape, classes = in_shape, None
        if shape is None and dataset is not None:
            shape, classes = dataset_shape(dataset, data_dir)
        model = build_model(name, model_args, shape, classes, width).eval()
        _with_input_shape(model, shape, dataset, data_dir)
        why = "a model factory without --checkpoint"
        if set_batchnorm_statistics(model, seed):
            why += "; BatchNorm statistics from 64 synthetic inputs"
        return model, WeightSource("random init", f"seed {seed} ({why}; pass --checkpoint for trained weights)", {})
    MODELS.get(name)                                    # unknown names fail here, with close matches
    if model_args:
        raise ConfigError(f"--model-arg applies to model factories (FILE.py:FUNCTION), not to zoo model '{name}'")
    if name in EMBEDDED and width in (None, 1.0) and in_shape is None:
        asset, how = EMBEDDED[name]
        with resources.as_file(resources.files("codesign").joinpath(f"assets/{asset}")) as path:
            model, meta = load_model(path)
        return model, WeightSource("embedded default", how, meta)
    torch.manual_seed(seed)
    model = create_model(name, width=1.0 if width is None else width,
                         in_shape=in_shape or builder_default(name, "in_shape"),
                         num_classes=builder_default(name, "num_classes")).eval()
    why = "no trained default ships for this model" if name not in EMBEDDED else "width or input shape differs " \
                                                                                  "from the default"
    if set_batchnorm_statistics(model, seed):
        why += "; BatchNorm statistics from 64 synthetic inputs, so activations keep their scale"
    return model, WeightSource("random init", f"seed {seed} ({why}; pass --checkpoint for trained weights)", {})


def given_model(model: nn.Module, in_shape: Optional[Sequence[int]], dataset: Optional[str] = None,
                data_dir: Optional[Path] = None) -> Tuple[nn.Module, WeightSource]:
    """A module passed in by a Python caller, with its input shape recorded (see _with_input_shape)."""
    from ..model_source import check_finite_weights

    check_finite_weights(model, "", f"check the {type(model).__name__} passed to export_model")
    _with_input_shape(model, in_shape, dataset, data_dir)
    return model.eval(), WeightSource("given module", f"the {type(model).__name__} passed to export_model", {})


def dataset_shape(dataset: str, data_dir: Optional[Path] = None) -> Tuple[Tuple[int, ...], int]:
    """(input shape, classes) of a dataset."""
    from ..data import load_dataset

    splits = load_dataset(dataset, data_dir)
    return tuple(splits.in_shape), int(splits.num_classes)


def _with_input_shape(model: nn.Module, in_shape, dataset: Optional[str], data_dir) -> None:
    """Give a model that records no input shape (a pickled module, a factory without an in_shape
    argument) the one of --input-shape or the dataset; an error when neither is given."""
    from ..model_source import spec_of

    spec = getattr(model, "codesign_spec", None) or {}
    if spec.get("in_shape") is not None:
        if in_shape is not None and [int(d) for d in in_shape] != list(spec["in_shape"]):
            raise ConfigError(f"--input-shape {','.join(map(str, in_shape))} differs from the input shape "
                              f"{','.join(map(str, spec['in_shape']))} that {spec['name']} records")
        return
    shape = in_shape if in_shape is not None else (dataset_shape(dataset, data_dir)[0] if dataset else None)
    if shape is None:
        from ..model_source import unknown_input_shape
        raise unknown_input_shape(spec.get("name", type(model).__name__), model, dataset=True)
    model.codesign_spec = spec_of(model, shape)


def set_batchnorm_statistics(model: nn.Module, seed: int, samples: int = 64) -> bool:
    """Give a randomly initialised model's BatchNorm layers the statistics of seeded Gaussian
    inputs (at initialisation they are 0/1, and a deep ResNet's outputs then grow to ~1e6)."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return False
    for m in norms:
        m.reset_running_stats()
        m.momentum = None                                 # cumulative average over the batch
    x = torch.randn(samples, *model.codesign_spec["in_shape"], generator=torch.Generator().manual_seed(seed))
    model.train()
    with torch.no_grad():
        model(x)
    for m in norms:
        m.momentum = 0.1
    model.eval()
    return True


def save_embedded_default(checkpoint: Path, path: Path) -> None:
    """Turn a trained model file into an embedded default: float16 tensors (half the size; the
    model file loader casts them back), the training recipe and metrics kept. This is how the
    assets in codesign/assets/default_*.pt were made from `codesign train` runs."""
    model, meta = load_model(checkpoint)
    half = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    atomic.torch_save(path, {"format": MODEL_FORMAT, "model_spec": meta["model_spec"], "state_dict": half,
                             "source": "embedded default", "recipe": meta.get("recipe"),
                             "metrics": meta.get("metrics")})
