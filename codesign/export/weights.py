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
from typing import Any, Dict, Optional, Tuple

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
                  seed: int = 0) -> Tuple[nn.Module, WeightSource]:
    """The model to export and where its weights come from."""
    if checkpoint is not None:
        if width is not None:
            raise ConfigError("--width applies to models without --checkpoint (the checkpoint fixes the size)")
        model, meta = load_model(checkpoint)
        spec_name = meta["model_spec"]["name"]
        if name is not None and name != spec_name:
            raise ConfigError(f"--model {name} does not match the checkpoint, which holds a '{spec_name}'; "
                              f"drop --model or pick the matching checkpoint")
        return model, WeightSource("trained checkpoint", f"{checkpoint} ({meta.get('source', 'unknown')})", meta)
    if name is None:
        raise ConfigError("give --model NAME (codesign list models) or --checkpoint path/model.pt")
    MODELS.get(name)                                    # unknown names fail here, with close matches
    if name in EMBEDDED and width in (None, 1.0):
        asset, how = EMBEDDED[name]
        with resources.as_file(resources.files("codesign").joinpath(f"assets/{asset}")) as path:
            model, meta = load_model(path)
        return model, WeightSource("embedded default", how, meta)
    torch.manual_seed(seed)
    model = create_model(name, width=1.0 if width is None else width, in_shape=builder_default(name, "in_shape"),
                         num_classes=builder_default(name, "num_classes")).eval()
    why = "no trained default ships for this model" if name not in EMBEDDED else "width differs from the default"
    if set_batchnorm_statistics(model, seed):
        why += "; BatchNorm statistics from 64 synthetic inputs, so activations keep their scale"
    return model, WeightSource("random init", f"seed {seed} ({why}; pass --checkpoint for trained weights)", {})


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
