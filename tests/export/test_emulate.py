"""The emulation of hls4ml arithmetic where it depends on more than the layer result types: average
pooling (the accumulator's truncating division; border windows with and without the padding counted)
and which layers it cannot emulate bit for bit."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from codesign.export.emulate import Emulator, LayerTypes, inexact_layers
from codesign.export.hls import source_graph
from codesign.fixed_point import FixedType

IN_T = FixedType(8, 4, True, "RND_CONV", "SAT")        # steps of 1/16
OUT_T = FixedType(16, 4, True, "RND_CONV", "SAT")      # steps of 1/4096


def _run(pool: nn.Module, x: torch.Tensor, typed: bool = True) -> torch.Tensor:
    clean = source_graph(nn.Sequential(pool).eval(), tuple(x.shape[1:]))
    plan = {clean.graph.inputs[0]: LayerTypes(IN_T), clean.graph.nodes[0].name: LayerTypes(OUT_T)} if typed else None
    return Emulator(clean.graph, clean.fused_bias).run(x, plan)


def test_a_fixed_point_average_truncates_at_the_accumulators_bits():
    """hls4ml divides the window sum in its accumulator (the input's 4 fractional bits + ceil(log2 9) = 8) and
    truncates: one pixel of 1/16 in a 3x3 window averages to 1/256, not 1/144 (= 28/4096 at the result type).
    Before the fix the emulation divided exactly (C simulation differed in about 6% of such outputs)."""
    x = torch.zeros(1, 1, 3, 3, dtype=torch.float64)
    x[0, 0, 1, 1] = 1 / 16
    assert _run(nn.AvgPool2d(3), x).item() == 1 / 256
    assert _run(nn.AvgPool2d(3), x, typed=False).item() == pytest.approx(1 / 144)


@pytest.mark.parametrize("count_include_pad,corner", [(True, 4 / 9), (False, 1.0)])
def test_padded_average_pooling_counts_the_pad_as_pytorch_says(count_include_pad, corner):
    """A corner window of AvgPool2d(3, stride 2, padding 1) on ones overlaps 4 pixels: PyTorch's default divides
    by 9, count_include_pad=False by 4 (before the fix the emulation refused the second)."""
    pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=count_include_pad)
    x = torch.ones(1, 1, 5, 5, dtype=torch.float64)
    assert _run(pool, x, typed=False)[0, 0, 0, 0].item() == pytest.approx(corner)
    assert torch.allclose(_run(pool, x, typed=False), pool(x))
    assert abs(_run(pool, x)[0, 0, 0, 0].item() - corner) < 2 ** -8


def test_one_dimensional_padded_pooling():
    pool = nn.AvgPool1d(3, stride=2, padding=1, count_include_pad=False)
    x = torch.randn(2, 3, 9, dtype=torch.float64)
    assert torch.allclose(_run(pool, x, typed=False), pool(x))


def test_layers_the_emulation_does_not_reproduce_are_named():
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.BatchNorm1d(6), nn.Linear(6, 3), nn.Softmax(dim=1)).eval()
    clean = source_graph(model, (4,))
    typed = {name: LayerTypes(OUT_T) for name in [clean.graph.inputs[0]] + [n.name for n in clean.graph.nodes]}
    found = list(inexact_layers(clean.graph, clean.fused_bias, typed, clean.layer_names))
    assert len(found) == 1 and "(BatchNormalization)" in found[0]       # the Softmax's input has a type
    untyped = list(inexact_layers(clean.graph, clean.fused_bias, {}, clean.layer_names))
    assert any("(Softmax): its input has no fixed-point type" in line for line in untyped)
