import gzip

import numpy as np
import pytest
import torch

from codesign.data import augment_batch, list_datasets, load_dataset
from codesign.data.download import _idx_bytes
from codesign.data.idx import read_idx
from codesign.errors import CodesignError, DataError


def test_registry_lists_the_real_and_synthetic_sets():
    assert {"mnist", "fashion_mnist", "mnist_mini", "cifar10", "cifar100", "synthetic"} <= set(list_datasets())


def test_bundled_mnist_subset_is_real_normalised_mnist():
    s = load_dataset("mnist_mini")
    assert s.sizes() == {"train": 6000, "val": 0, "test": 1000}
    assert s.in_shape == (1, 28, 28) and s.num_classes == 10
    assert s.train[0].dtype == torch.float32 and s.train[1].dtype == torch.int64
    assert abs(float(s.train[0].mean())) < 0.05 and abs(float(s.train[0].std()) - 1) < 0.05
    assert set(s.train[1].tolist()) == set(range(10))


def test_validation_split_is_seeded_and_disjoint():
    a = load_dataset("mnist_mini", val_fraction=0.1, split_seed=3)
    b = load_dataset("mnist_mini", val_fraction=0.1, split_seed=3)
    assert a.sizes() == {"train": 5400, "val": 600, "test": 1000}
    assert torch.equal(a.val[0], b.val[0])


def test_missing_dataset_says_which_command_fetches_it(tmp_path):
    with pytest.raises(DataError, match=r"not found in .*run `codesign data fetch mnist`"):
        load_dataset("mnist", tmp_path)
    with pytest.raises(DataError, match=r"cifar10.*codesign data fetch cifar10"):
        load_dataset("cifar10", tmp_path)


def test_idx_round_trip_gzip_and_truncation(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(_idx_bytes(arr))
    (tmp_path / "a.gz").write_bytes(gzip.compress(_idx_bytes(arr)))
    assert np.array_equal(read_idx(tmp_path / "a"), arr)
    assert np.array_equal(read_idx(tmp_path / "a.gz"), arr)
    (tmp_path / "t").write_bytes(_idx_bytes(arr)[:-3])
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "t")
    (tmp_path / "junk").write_bytes(b"hello world")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(tmp_path / "junk")


def test_mnist_idx_folder_loads(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    imgs = np.random.default_rng(0).integers(0, 255, (5, 28, 28), dtype=np.uint8)
    labels = np.arange(5, dtype=np.uint8)
    for stem, arr in [("train-images-idx3-ubyte", imgs), ("train-labels-idx1-ubyte", labels),
                      ("t10k-images-idx3-ubyte", imgs[:2]), ("t10k-labels-idx1-ubyte", labels[:2])]:
        (folder / stem).write_bytes(_idx_bytes(arr))
    s = load_dataset("mnist", tmp_path)
    assert s.sizes() == {"train": 5, "val": 0, "test": 2}
    assert s.train[1].tolist() == [0, 1, 2, 3, 4]


def test_synthetic_any_shape_is_deterministic_and_learnable_labels():
    a = load_dataset("synthetic", in_shape=(3, 8, 8), num_classes=4, n_train=100, n_test=20, seed=1)
    b = load_dataset("synthetic", in_shape=(3, 8, 8), num_classes=4, n_train=100, n_test=20, seed=1)
    assert a.in_shape == (3, 8, 8) and a.num_classes == 4
    assert torch.equal(a.train[0], b.train[0]) and torch.equal(a.train[1], b.train[1])
    assert len(set(a.train[1].tolist())) == 4
    with pytest.raises(CodesignError):
        load_dataset("synthetic", in_shape=(0, 8), num_classes=4)


def test_crop_flip_augmentation_keeps_shape_and_is_seeded():
    x = torch.randn(8, 3, 32, 32)
    a = augment_batch(x, "crop_flip", torch.Generator().manual_seed(0))
    b = augment_batch(x, "crop_flip", torch.Generator().manual_seed(0))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)
    assert augment_batch(x, None, torch.Generator()) is x


def test_a_loaders_own_seed_option_is_not_the_split_seed():
    """data.options.seed (the synthetic generator's) and the run's seed (validation split) are separate."""
    a = load_dataset("synthetic", in_shape=(4,), n_train=50, n_test=10, seed=5, val_fraction=0.2, split_seed=1)
    b = load_dataset("synthetic", in_shape=(4,), n_train=50, n_test=10, seed=6, val_fraction=0.2, split_seed=1)
    c = load_dataset("synthetic", in_shape=(4,), n_train=50, n_test=10, seed=5, val_fraction=0.2, split_seed=2)
    assert not torch.equal(a.test[0], b.test[0]) and torch.equal(a.test[0], c.test[0])
    assert not torch.equal(a.val[0], c.val[0])
