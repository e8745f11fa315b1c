"""One rule for how a per-layer setting finds its layer, in simulate and export, hls4ml's (codesign.hls_names)."""
from __future__ import annotations

import pytest

from codesign.sim import network_from_model
from tests.test_naming import _Net


def test_export_and_simulate_find_a_layer_by_one_rule():
    """Per-layer settings name a layer by one rule in both commands (codesign.hls_names.find_layer): as given, as a
    lower-case C identifier, or as the layer hls4ml makes of it. The export matched case-sensitively and knew no
    hls4ml suffix, simulate did both."""
    from codesign.export.hls import source_graph
    from codesign.export.precision import layer_targets
    from codesign.sim.mapping import LayerSettings, match_layers

    model = _Net().eval()
    given = ["FC1", "Dense_fc2", "sw.sigmoid", "SW_MUL", "act_1", "relu_2"]
    exported = layer_targets(given, source_graph(model, (8,)), "test")
    names = [l.name for l in network_from_model(model, (8,)).layers]
    simulated, _ = match_layers({g: LayerSettings(reuse_factor=i + 2) for i, g in enumerate(given)}, names)
    assert {names[i].replace(".", "_") for i in simulated} == set(exported.values()) == \
        {"fc1", "fc2", "sw_sigmoid", "sw_mul", "act_1", "relu_2"}


def test_two_entries_of_one_layer_merge_as_hls4ml_applies_them():
    """hls4ml copies a node's entry (c1) over the layer it makes of it (Conv2D_c1): merged in that order, a setting
    given two values is a one-line error naming both entries and the one hls4ml reads; 'auto' yields to a type."""
    from codesign.errors import ConfigError
    from codesign.hls_names import hls4ml_order, merge_entries

    assert hls4ml_order(["c1", "Conv2D_c1", "bn_add", "add"]) == ["Conv2D_c1", "bn_add", "c1", "add"]
    assert merge_entries([("c1", {"result": "auto", "rf": 3}), ("Conv2D_c1", {"result": "fixed<8,3>", "rf": 3})],
                         "c1") == {"result": "fixed<8,3>", "rf": 3}
    with pytest.raises(ConfigError) as err:
        merge_entries([("c1", {"rf": 9}), ("Conv2D_c1", {"rf": 3})], "c1")
    assert str(err.value) == ("'Conv2D_c1' and 'c1' are one layer (c1) and set its rf to 3 and 9: keep one of them "
                              "(hls4ml reads 'c1')")


def test_a_precision_files_two_names_of_one_layer_that_disagree_are_refused():
    """A precision file's overrides of one layer under two names (fc1 and Dense_fc1) took the last one written."""
    from codesign.errors import ConfigError
    from codesign.export.hls import source_graph
    from codesign.export.precision import LayerOverride, PrecisionSpec, choose_precision

    import torch

    model = _Net().eval()
    spec = PrecisionSpec(overrides={"fc1": LayerOverride(weight="fixed<8,3>"),
                                    "Dense_fc1": LayerOverride(weight="fixed<6,2>")})
    with pytest.raises(ConfigError, match="'Dense_fc1' and 'fc1' are one layer"):
        choose_precision(source_graph(model, (8,)), torch.randn(16, 8), spec)
