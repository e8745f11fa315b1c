"""The registered datasets and how each one is read from disk (or generated)."""
from __future__ import annotations

import pickle
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, DataError
from ..validate import finite, integer
from ..validate import seed as validate_seed
from . import DATASETS, DatasetSpec, TensorPair
from .idx import find_idx, read_idx

if TYPE_CHECKING:                     # numpy and torch are imported by the loaders, not to list datasets
    import numpy as np
    import torch

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


def _images(u8: np.ndarray, mean: float, std: float) -> torch.Tensor:
    import numpy as np
    import torch

    x = torch.from_numpy(np.array(u8, dtype=np.float32)).div_(255.0)
    return x.sub_(mean).div_(std).unsqueeze(1)


def _labels(arr: np.ndarray) -> torch.Tensor:
    import numpy as np
    import torch

    return torch.from_numpy(np.asarray(arr, dtype=np.int64))


def _idx_pair(folder: Path, name: str, mean: float, std: float) -> tuple[TensorPair, TensorPair]:
    paths = [find_idx(folder, stem) for stem in IDX_STEMS]
    if any(p is None for p in paths):
        raise DataError(f"dataset '{name}' not found in {folder}; run `codesign data fetch {name}` "
                        f"(or put the four IDX files there)")
    xtr, ytr, xte, yte = (read_idx(p) for p in paths)
    for array, path, ndim in ((xtr, paths[0], 3), (ytr, paths[1], 1), (xte, paths[2], 3), (yte, paths[3], 1)):
        if array.ndim != ndim:
            raise DataError(f"{path} holds an array of {array.ndim} dimensions, expected {ndim} "
                            f"({'images' if ndim == 3 else 'labels'}); fetch '{name}' again")
    if len(xtr) != len(ytr) or len(xte) != len(yte):
        raise DataError(f"{folder}: image and label counts differ; fetch '{name}' again")
    return (_images(xtr, mean, std), _labels(ytr)), (_images(xte, mean, std), _labels(yte))


def load_mnist(data_dir: Path, **_) -> tuple[TensorPair, TensorPair]:
    return _idx_pair(data_dir / "mnist", "mnist", MNIST_MEAN, MNIST_STD)


def load_fashion_mnist(data_dir: Path, **_) -> tuple[TensorPair, TensorPair]:
    return _idx_pair(data_dir / "fashion_mnist", "fashion_mnist", FASHION_MEAN, FASHION_STD)


def load_mnist_mini(_data_dir: Path, **_) -> tuple[TensorPair, TensorPair]:
    import numpy as np

    with resources.files("codesign").joinpath("assets/mnist_mini.npz").open("rb") as f:
        z = np.load(f)
        train = (_images(z["train_images"], MNIST_MEAN, MNIST_STD), _labels(z["train_labels"]))
        test = (_images(z["test_images"], MNIST_MEAN, MNIST_STD), _labels(z["test_labels"]))
    return train, test


def _cifar(data_dir: Path, name: str, folder: str, archive: str, train_files, test_file, label_key):
    root = data_dir / name / folder
    if not root.is_dir():
        raise DataError(f"dataset '{name}' not found: expected the python-pickle folder {root} "
                        f"(extract {archive} there; `codesign data fetch {name}` tries the standard download)")

    def read(files):
        import numpy as np
        import torch

        xs, ys = [], []
        for fname in files:
            x, y = _cifar_batch(root / fname, label_key, archive)
            xs.append(x)
            ys.extend(y)
        x = torch.from_numpy(np.concatenate(xs)).float().div_(255.0)
        mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
        return (x - mean) / std, _labels(ys)

    return read(train_files), read([test_file])


class _NumpyOnly(pickle.Unpickler):
    """CIFAR's pickles hold dicts, lists, bytes and numpy arrays; nothing else is ever constructed (a
    pickle can run any code it names)."""
    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar"), ("numpy.core.numeric", "_frombuffer"),
               ("numpy._core.numeric", "_frombuffer"), ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _cifar_batch(path: Path, label_key: str, archive: str):
    """(uint8 images N×3×32×32, labels) of one batch file, or a one-line DataError."""
    import numpy as np
    try:
        with open(path, "rb") as f:
            batch = _NumpyOnly(f, encoding="latin1").load()
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = [int(v) for v in batch[label_key]]
        images = data.reshape(-1, 3, 32, 32)
        if len(images) != len(labels) or data.size != len(labels) * 3 * 32 * 32:
            raise ValueError(f"{len(labels)} labels for {data.size} bytes of images")
    except (OSError, EOFError, pickle.UnpicklingError, TypeError, ValueError, KeyError, AttributeError,
            IndexError, MemoryError) as err:
        raise DataError(f"cannot read {path} ({type(err).__name__}: {err}); extract {archive} again") from None
    return images, labels


def load_cifar10(data_dir: Path, **_):
    return _cifar(data_dir, "cifar10", "cifar-10-batches-py", "cifar-10-python.tar.gz",
                  [f"data_batch_{i}" for i in range(1, 6)], "test_batch", "labels")


def load_cifar100(data_dir: Path, **_):
    return _cifar(data_dir, "cifar100", "cifar-100-python", "cifar-100-python.tar.gz", ["train"], "test", "fine_labels")


def load_synthetic(_data_dir: Path, in_shape=(1, 28, 28), num_classes=10, n_train=2048, n_test=512,
                   seed=0, noise=0.1, **_) -> tuple[TensorPair, TensorPair]:
    """Gaussian inputs labelled by a fixed random linear teacher (plus label noise-free logit
    noise), so models can learn it and accuracy means something. Same seed, same data."""
    import numpy as np
    import torch

    in_shape, num_classes, n_train, n_test, seed, noise = _synthetic_options(in_shape, num_classes, n_train,
                                                                             n_test, seed, noise)
    gen = torch.Generator().manual_seed(seed)
    features = int(np.prod(in_shape))
    teacher = torch.randn(features, num_classes, generator=gen) / features ** 0.5

    def make(n):
        x = torch.randn(n, *in_shape, generator=gen)
        logits = x.reshape(n, -1) @ teacher + noise * torch.randn(n, num_classes, generator=gen)
        return x, logits.argmax(1)

    return make(int(n_train)), make(int(n_test))


def _synthetic_options(in_shape, num_classes, n_train, n_test, seed, noise):
    try:
        if isinstance(in_shape, (str, bytes)) or not 1 <= len(in_shape) <= 3:
            raise ConfigError(f"in_shape must be a list of 1 to 3 sizes, got {in_shape!r}")
        shape = tuple(integer(d, "in_shape sizes", low=1, high=1 << 20) for d in in_shape)
        return (shape, integer(num_classes, "num_classes", low=2, high=1 << 20),
                integer(n_train, "n_train", low=1), integer(n_test, "n_test", low=1), validate_seed(seed),
                finite(noise, "noise", low=0))
    except ConfigError as err:
        raise DataError(f"synthetic data: {err}") from None


for _spec in (
    DatasetSpec("mnist", (1, 28, 28), 10, "MNIST handwritten digits, 60k/10k (IDX)", load_mnist,
                fetchable=True),
    DatasetSpec("fashion_mnist", (1, 28, 28), 10, "Fashion-MNIST clothing, 60k/10k (IDX)",
                load_fashion_mnist, fetchable=True),
    DatasetSpec("mnist_mini", (1, 28, 28), 10, "6,000/1,000 real MNIST digits shipped with codesign",
                load_mnist_mini),
    DatasetSpec("cifar10", (3, 32, 32), 10, "CIFAR-10 from a local folder (python pickle)",
                load_cifar10, augment="crop_flip", fetchable=True),
    DatasetSpec("cifar100", (3, 32, 32), 100, "CIFAR-100 from a local folder (python pickle)",
                load_cifar100, augment="crop_flip", fetchable=True),
    DatasetSpec("synthetic", (1, 28, 28), 10, "Gaussian inputs of any shape labelled by a random "
                "linear teacher (options: in_shape, num_classes, n_train, n_test, seed)", load_synthetic),
):
    DATASETS.register(_spec.name)(_spec)
