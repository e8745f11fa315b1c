"""Fixed-point accuracy from the emulated export graph: wide types keep the float answer, narrow ones lose it."""
from __future__ import annotations

import torch

from codesign.export.accuracy import fixed_point_accuracy
from codesign.zoo import create_model


def _model_and_data():
    torch.manual_seed(0)
    model = create_model("jet_mlp", 1.0, (16,), 5).eval()
    x = torch.randn(300, 16) * 2
    with torch.no_grad():
        y = model(x).argmax(1)                  # labels the float model gets all right
    return model, x, y


def test_wide_precision_keeps_the_float_accuracy_and_narrow_loses_it():
    model, x, y = _model_and_data()
    wide = fixed_point_accuracy(model, "fixed<24,10,RND_CONV,SAT>", x, y)
    narrow = fixed_point_accuracy(model, "ap_fixed<4,1>", x, y)
    assert wide.float_accuracy == 1.0 and wide.accuracy >= 0.99 and wide.agreement >= 0.99
    assert narrow.accuracy < wide.accuracy - 0.05 and narrow.accuracy == narrow.agreement
    assert wide.fields()["fixed_precision"] == "fixed<24,10,RND_CONV,SAT>" and wide.samples == 300


def test_without_labels_only_the_agreement_is_known():
    model, x, _ = _model_and_data()
    result = fixed_point_accuracy(model, "ap_fixed<16,6>", x[:50])
    assert result.accuracy is None and result.float_accuracy is None and 0 <= result.agreement <= 1


def test_a_check_against_the_target_agreement_names_what_overflows():
    """What the end of a --fit run reports (codesign.export.accuracy.fixed_point_check): below the export's target
    agreement only when clearly below it, with the layers whose results leave their type's range."""
    from codesign.export.accuracy import fixed_point_check

    model, x, y = _model_and_data()
    narrow = fixed_point_check(model, "ap_fixed<4,1>", x, y)
    assert narrow.below and narrow.overflows and narrow.line().startswith("warning: fixed point at ap_fixed<4,1>")
    assert narrow.section()["below_target"] is True and narrow.section()["target_agreement"] == 0.999
    wide = fixed_point_check(model, "fixed<24,10,RND_CONV,SAT>", x, y)
    assert not wide.below and wide.overflows == () and not wide.line().startswith("warning")
    assert wide.emulation == "bit-exact"
