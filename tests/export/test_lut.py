"""hls4ml's lookup-table activations as the emulation computes them (codesign/export/lut.py), checked
against values worked out by hand from nnet_activation.h; bit-exactness with C simulation is in
tests/export/test_csim.py."""
from __future__ import annotations

import math

import pytest
import torch

from codesign.export import lut
from codesign.export.emulate import Emulator, LayerTypes
from codesign.export.hls import source_graph
from codesign.export.precision import choose_precision, precision_spec
from codesign.fixed_point import FixedType


def test_sigmoid_and_tanh_read_hls4mls_tables():
    """index = int(x * 1024 / 16) + 512 (tanh: / 8), truncated towards zero and clamped; entries in
    ap_fixed<18,8> (truncated to 2^-10). Before the fix the emulation used torch.sigmoid/torch.tanh."""
    x = torch.tensor([0.0, 0.01, -0.01, 0.5, -0.5, 9.0, -9.0], dtype=torch.float64)
    sig = lut.activation("Sigmoid", x)
    entry = lambda v: math.floor((1.0 / (1.0 + math.exp(-v))) * 1024) / 1024      # noqa: E731
    assert sig.tolist() == [0.5, 0.5, 0.5, entry(0.5), entry(-0.5), entry(8 - 1 / 64), entry(-8.0)]
    tanh = lut.activation("Tanh", x)
    floor = lambda v: math.floor(v * 1024) / 1024                                   # noqa: E731
    assert tanh[0] == 0.0 and tanh[3] == floor(math.tanh(0.5))
    assert tanh[1] == floor(math.tanh(1 / 128)) and tanh[2] == floor(math.tanh(-1 / 128))   # int(±1.28) = ±1
    assert tanh[-1] == floor(math.tanh(-4.0))                        # clamped to the table's first entry


def test_softmax_is_hls4mls_stable_implementation():
    """logits (0.3, 0) in fixed<16,4>: d = 0.3 → ufixed<16,4> raw 1229, top 10 bits 19 → exp(-0.296875) in
    ap_fixed<18,8,RND,SAT> = 761/1024; the sum 1785/1024 addresses the inverse table by its top 10 bits (6, i.e.
    1.5) → 1/1.5 = 683/1024. The outputs are exp * inverse, not the float softmax (0.574, 0.426)."""
    t = FixedType(16, 4, True, "RND_CONV", "SAT")
    y = lut.softmax(torch.tensor([[0.3, 0.0]], dtype=torch.float64), t, -1)
    assert y.tolist() == [[1.0 * 683 / 1024, 761 / 1024 * 683 / 1024]]


def test_softmax_types_hold_every_difference_and_size_the_table_to_them():
    assert lut.softmax_types(FixedType(16, 4)).inp_norm == FixedType(16, 4, False)
    assert lut.softmax_types(FixedType(8, 3)).exp_table_size == 256
    config = lut.hls_layer_config("Softmax", FixedType(16, 4))
    assert config["Implementation"] == "stable" and config["inp_norm_t"] == "ufixed<16,4,TRN,WRAP>"
    assert config["exp_table_size"] == 1024 and config["Precision"]["inv_table"] == "fixed<18,8,RND,SAT>"
    assert lut.hls_layer_config("Tanh", None) == {"TableSize": 1024, "Precision": {"table": "fixed<18,8,TRN,WRAP>"}}


def _mlp(last):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3), last).eval()


def test_the_emulator_uses_the_tables_for_fixed_point_inputs_only():
    model = _mlp(torch.nn.Softmax(dim=1))
    clean = source_graph(model, (4,))
    x = torch.randn(32, 4, generator=torch.Generator().manual_seed(1))
    emu = Emulator(clean.graph, clean.fused_bias)
    with torch.no_grad():
        assert torch.allclose(emu.run(x), model(x).double(), atol=1e-6)          # float: the exact functions
    t = FixedType(16, 5, True, "RND_CONV", "SAT")
    plan = {name: LayerTypes(t) for name in ("model_input", "l_0", "l_1", "l_2", "l_3")}
    y = emu.run(x, plan)
    assert not torch.allclose(y, model(x).double(), atol=1e-4)                  # fixed: the tables
    assert torch.all(y.sum(1) != 1.0)


def test_auto_precision_says_when_the_tables_bound_the_agreement():
    """A softmax over many nearly equal logits: no width reaches the target (the exp table's resolution
    ties them), so the search takes the smallest widths that compute what the widest compute and says it
    missed the target; before the fix it emulated the float softmax and claimed the target."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.Softmax(dim=1)).eval()
    with torch.no_grad():
        model[0].weight.mul_(0.01)
    clean = source_graph(model, (4,))
    plan = choose_precision(clean, torch.randn(256, 4, generator=torch.Generator().manual_seed(1)),
                            precision_spec("auto", target_agreement=0.999))
    assert plan.target_met is False and plan.summary()["target_met"] is False
    assert plan.emulated_agreement < 0.999 and plan.emulation == "bit-exact"
    assert plan.widths[1] < 24                                       # not the widest results


@pytest.mark.parametrize("op", ["Sigmoid", "Tanh"])
def test_activation_tables_cover_the_documented_range(op):
    span = 8 if op == "Sigmoid" else 4
    x = torch.linspace(-2 * span, 2 * span, 4001, dtype=torch.float64)
    y = lut.activation(op, x)
    assert torch.all(y[1:] >= y[:-1])                                # monotone
    assert y[0] == y[x < -span].max() and y[-1] == y[x >= span].min()   # clamped outside [-span, span)
