import pytest
import torch

from codesign.data import load_dataset
from codesign.errors import CodesignError

SYN = {"in_shape": (1, 4, 4), "n_train": 100, "n_test": 10}


def test_subset_is_the_slice_then_replayed_old_samples():
    full = load_dataset("synthetic", **SYN)
    part = load_dataset("synthetic", subset={"start": 60, "stop": 90, "replay": 0.25}, split_seed=3, **SYN)
    x, y = part.train
    assert len(y) == 30 + 15
    assert torch.equal(x[:30], full.train[0][60:90])                      # the new slice, in order
    old = [int(torch.nonzero((full.train[0] == row).all(dim=(1, 2, 3)))[0]) for row in x[30:]]
    assert len(set(old)) == 15 and all(i < 60 for i in old)               # distinct old samples
    again = load_dataset("synthetic", subset={"start": 60, "stop": 90, "replay": 0.25}, split_seed=3, **SYN)
    assert torch.equal(again.train[0], x)                                 # seeded


def test_subset_stop_defaults_to_the_end_and_applies_after_the_validation_hold_out():
    part = load_dataset("synthetic", subset={"start": 50}, val_fraction=0.2, **SYN)
    assert len(part.train[1]) == 80 - 50 and len(part.val[1]) == 20


@pytest.mark.parametrize("subset,needle", [({"start": 90, "stop": 50}, "start < stop"),
                                           ({"start": 0, "stop": 500}, "stop <= 100"),
                                           ({"begin": 3}, "unknown key 'begin'")])
def test_bad_subsets_are_errors(subset, needle):
    with pytest.raises(CodesignError, match=needle):
        load_dataset("synthetic", subset=subset, **SYN)
