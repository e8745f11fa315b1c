import pytest

from codesign.errors import ConfigError
from codesign.sim import parse_precision


@pytest.mark.parametrize("spec, w, a, flt", [
    ("auto", 16, 16, False), (None, 16, 16, False), ("ap_fixed<16,6>", 16, 16, False),
    ("fixed<8,3,RND_CONV,SAT>", 8, 8, False), ("ap_ufixed<6,0>", 6, 6, False), ("ap_int<4>", 4, 4, False),
    ("int8", 8, 8, False), ("uint2", 2, 2, False), ("12", 12, 12, False), ("float32", 32, 32, True),
    ("FP32", 32, 32, True), ("ap_fixed<8,3>/ap_fixed<16,6>", 8, 16, False), ("4/8", 4, 8, False),
])
def test_parses_hls4ml_types(spec, w, a, flt):
    p = parse_precision(spec)
    assert (p.weight_bits, p.act_bits, p.is_float) == (w, a, flt)


@pytest.mark.parametrize("spec", ["ap_fixed<>", "bfloat16x", "8/16/32", "float/8", "0", "ap_int<2000>", "ap_fixed<16>", "auto/8"])
def test_bad_precision_is_one_line_error(spec):
    with pytest.raises(ConfigError) as err:
        parse_precision(spec)
    assert "\n" not in str(err.value) and "precision" in str(err.value)
