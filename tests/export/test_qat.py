"""The quantization-aware path's support check (the path itself runs in the slow export tests)."""
import pytest
import torch.nn as nn

from codesign.errors import ExportError
from codesign.export.qat import check_qat_supported


class BnMlp(nn.Module):
    """A plain MLP with BatchNorm, not an nn.Sequential, and no residual connection."""

    def __init__(self):
        super().__init__()
        self.fc1, self.bn, self.fc2 = nn.Linear(16, 8), nn.BatchNorm1d(8), nn.Linear(8, 5)

    def forward(self, x):
        return self.fc2(self.bn(self.fc1(x)).relu())


def test_a_model_that_is_not_sequential_is_named_for_what_it_is():
    """(it said that BnMlp 'has residual connections')"""
    with pytest.raises(ExportError) as err:
        check_qat_supported(BnMlp())
    assert "'BnMlp' (BnMlp) is not an nn.Sequential" in str(err.value) and "residual" not in str(err.value)
    check_qat_supported(nn.Sequential(nn.Linear(16, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 5)))
