"""FLOP accounting covers every layer type the unit tracer handles (one table: codesign.layertypes)."""
import torch.nn as nn

from codesign.flops import model_cost
from codesign.layertypes import COMPUTE
from codesign.units.graph import COMPUTE as TRACED


def test_conv3d_is_counted_like_the_other_convolutions():
    model = nn.Sequential(nn.Conv3d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 2 * 2 * 2, 3))
    cost = model_cost(model, (2, 4, 4, 4))
    assert cost.flops_dense == 2 * (4 * 2 * 27 * 8 + 32 * 3)
    assert TRACED is COMPUTE and nn.Conv3d in COMPUTE
