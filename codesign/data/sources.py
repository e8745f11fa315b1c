"""The registered datasets and how each one is read from disk (or generated)."""
from __future__ import annotations

import pickle
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from . import DATASETS, DatasetSpec, TensorPair
from .idx import find_idx, read_idx

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
IDX_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


def _images(u8: np.ndarray, mean: float, std: float) -> torch.Tensor:
    x = torch.from_numpy(np.array(u8, dtype=np.float32)).div_(255.0)
    return x.sub_(mean).div_(std).unsqueeze(1)


def _labels(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(arr, dtype=np.int64))


def _idx_pair(folder: Path, name: str, mean: float, std: float) -> tuple[TensorPair, TensorPair]:
    paths = [find_idx(folder, stem) for stem in IDX_STEMS]
    if any(p is None for p in paths):
        raise DataError(f"dataset '{name}' not found in {folder}; run `codesign data fetch {name}` "
                        f"(or put the four IDX files there)")
    xtr, ytr, xte, yte = (read_idx(p) for p in paths)
    if len(xtr) != len(ytr) or len(xte) != len(yte):
        raise DataError(f"{folder}: image and label counts differ; fetch '{name}' again")
    return (_images(xtr, mean, std), _labels(ytr)), (_images(xte, mean, std), _labels(yte))


def load_mnist(data_dir: Path, **_) -> tuple[TensorPair, TensorPair]:
    return _idx_pair(data_dir / "mnist", "mnist", MNIST_MEAN, MNIST_STD)


def load_fashion_mnist(data_dir: Path, **_) -> tuple[TensorPair, TensorPair]:
    return _idx_pair(data_dir / "fashion_mnist", "fashion_mnist", FASHION_MEAN, FASHION_STD)


def load_mnist_mini(_data_dir: Path, **_) -> tuple[TensorPair, TensorPair]:
    with resources.files("codesign").joinpath("assets/mnist_mini.npz").open("rb") as f:
        z = np.load(f)
        train = (_images(z["train_images"], MNIST_MEAN, MNIST_STD), _labels(z["train_labels"]))
        test = (_images(z["test_images"], MNIST_MEAN, MNIST_STD), _labels(z["test_labels"]))
    return train, test


def _cifar(data_dir: Path, name: str, folder: str, train_files, test_file, label_key):
    root = data_dir / name / folder
    if not root.is_dir():
        raise DataError(f"dataset '{name}' not found: expected the python-pickle folder {root} "
                        f"(extract {folder.replace('-batches', '')}-python.tar.gz there; "
                        f"`codesign data fetch {name}` tries the standard download)")

    def read(files):
        xs, ys = [], []
        for fname in files:
            path = root / fname
            try:
                with open(path, "rb") as f:
                    batch = pickle.load(f, encoding="latin1")
            except (OSError, pickle.UnpicklingError, EOFError) as err:
                raise DataError(f"cannot read {path} ({err}); extract the archive again") from err
            xs.append(np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.extend(batch[label_key])
        x = torch.from_numpy(np.concatenate(xs)).float().div_(255.0)
        mean = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
        return (x - mean) / std, _labels(ys)

    return read(train_files), read([test_file])


def load_cifar10(data_dir: Path, **_):
    return _cifar(data_dir, "cifar10", "cifar-10-batches-py",
                  [f"data_batch_{i}" for i in range(1, 6)], "test_batch", "labels")


def load_cifar100(data_dir: Path, **_):
    return _cifar(data_dir, "cifar100", "cifar-100-python", ["train"], "test", "fine_labels")


def load_synthetic(_data_dir: Path, in_shape=(1, 28, 28), num_classes=10, n_train=2048, n_test=512,
                   seed=0, noise=0.1, **_) -> tuple[TensorPair, TensorPair]:
    """Gaussian inputs labelled by a fixed random linear teacher (plus label noise-free logit
    noise), so models can learn it and accuracy means something. Same seed, same data."""
    in_shape = tuple(int(d) for d in in_shape)
    if any(d < 1 for d in in_shape) or num_classes < 2 or n_train < 1 or n_test < 1:
        raise DataError(f"synthetic data needs positive sizes and >= 2 classes, got in_shape={in_shape}, "
                        f"num_classes={num_classes}, n_train={n_train}, n_test={n_test}")
    gen = torch.Generator().manual_seed(int(seed))
    features = int(np.prod(in_shape))
    teacher = torch.randn(features, num_classes, generator=gen) / features ** 0.5

    def make(n):
        x = torch.randn(n, *in_shape, generator=gen)
        logits = x.reshape(n, -1) @ teacher + noise * torch.randn(n, num_classes, generator=gen)
        return x, logits.argmax(1)

    return make(int(n_train)), make(int(n_test))


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
