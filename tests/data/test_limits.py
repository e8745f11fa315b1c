"""--train-limit / --test-limit: the first N samples, unless the split is stored sorted by class."""
import torch

from codesign.data import limit_indices, load_dataset


def test_unsorted_split_keeps_the_first_samples():
    labels = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6])
    assert limit_indices(labels, 3).tolist() == [0, 1, 2]
    assert limit_indices(labels, 50).tolist() == list(range(8))


def test_class_sorted_split_keeps_every_class_evenly():
    labels = torch.arange(10).repeat_interleave(100)          # 100 of each class, sorted
    kept = labels[limit_indices(labels, 200)]
    assert torch.bincount(kept, minlength=10).tolist() == [20] * 10
    assert len(set(limit_indices(labels, 200).tolist())) == 200


def test_mnist_mini_limit_is_its_first_digits():
    full = load_dataset("mnist_mini")
    cut = load_dataset("mnist_mini", test_limit=100)
    assert torch.equal(cut.test[1], full.test[1][:100])
