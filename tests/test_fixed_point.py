"""The one precision parser: every command reads a precision string the way hls4ml does."""
import pytest

from codesign.errors import ConfigError
from codesign.fixed_point import FixedType, FloatType, integer_bits, parse_fixed, parse_precision, parse_type


@pytest.mark.parametrize("text, expected", [
    ("ap_fixed<16,6>", FixedType(16, 6, True, "TRN", "WRAP")),
    ("fixed<16,6,RND_CONV,SAT>", FixedType(16, 6, True, "RND_CONV", "SAT")),
    ("ap_fixed<8,3,AP_RND,AP_SAT_SYM>", FixedType(8, 3, True, "RND", "SAT_SYM")),
    ("ap_fixed<8,3,AP_RND,AP_SAT,2>", FixedType(8, 3, True, "RND", "SAT")),       # saturation bits
    ("ap_ufixed<8,0>", FixedType(8, 0, False)), ("ufixed<8,-2>", FixedType(8, -2, False)),
    ("ap_int<8>", FixedType(8, 8)), ("int<4>", FixedType(4, 4)), ("ap_uint<3>", FixedType(3, 3, False)),
    ("int8", FixedType(8, 8)), ("uint4", FixedType(4, 4, False)), (" ap_fixed< 16 , 6 > ", FixedType(16, 6)),
    ("float", FloatType()), ("FP32", FloatType()), ("auto", None),
])
def test_types_mean_what_they_mean_in_hls4ml(text, expected):
    assert parse_type(text) == expected


def test_dataclass_defaults_agree_with_the_parser():
    assert parse_type("fixed<16,6>") == FixedType(16, 6)
    assert FixedType(16, 6).hls() == "fixed<16,6,TRN,WRAP>"


def test_hls4ml_reads_our_type_strings_back():
    from hls4ml.backends import get_backend

    backend = get_backend("Vitis")
    for text in ("fixed<16,6,RND_CONV,SAT>", "ap_ufixed<8,-2>", "ap_int<8>"):
        t = parse_type(text)
        theirs = backend.convert_precision_string(t.hls())
        assert (theirs.width, theirs.integer, theirs.signed) == (t.width, t.integer, t.signed)
        assert str(theirs.rounding_mode) in (t.rounding, f"AP_{t.rounding}")
        assert str(theirs.saturation_mode) in (t.overflow, f"AP_{t.overflow}")


@pytest.mark.parametrize("text, w, a, weight, result", [
    ("auto", 16, 16, None, None),
    ("ap_fixed<8,3>/fixed<16,6,RND_CONV,SAT>", 8, 16, FixedType(8, 3), FixedType(16, 6, True, "RND_CONV", "SAT")),
    ("8", 8, 8, None, None), ("4/ap_fixed<16,6>", 4, 16, None, FixedType(16, 6)), ("int8", 8, 8, FixedType(8, 8), FixedType(8, 8)),
])
def test_precision_options(text, w, a, weight, result):
    p = parse_precision(text)
    assert (p.weight_bits, p.act_bits, p.weight, p.result, p.auto) == (w, a, weight, result, text == "auto")


@pytest.mark.parametrize("text", ["fixed<16>", "fixed<0,0>", "fixed<16,6,ROUND,SAT>", "banana", "ap_int<2000>",
                                  "float/8", "8/16/32", "auto/8"])
def test_bad_options_are_one_line_errors_naming_where(text):
    with pytest.raises(ConfigError) as err:
        parse_precision(text, "--precision")
    assert "\n" not in str(err.value) and str(err.value).startswith("--precision")


def test_parse_fixed_refuses_what_is_not_a_fixed_point_type():
    for text in ("float", "auto"):
        with pytest.raises(ConfigError, match="not a fixed-point type"):
            parse_fixed(text, "default")


@pytest.mark.parametrize("magnitude", [float("nan"), float("inf")])
def test_no_integer_bits_for_a_magnitude_that_is_not_finite(magnitude):
    with pytest.raises(ValueError, match="not finite"):     # callers check ranges first (export.emulate.Ranges)
        integer_bits(magnitude, True)


def test_a_precision_file_where_one_type_is_read_is_named_as_a_file(tmp_path):
    """simulate/train --precision bad/prec.yaml was split at '/' ("'bad' not understood")."""
    (tmp_path / "prec.yaml").write_text("default: ap_fixed<16,6>\n")
    for text in (str(tmp_path / "prec.yaml"), "bad/prec.yml"):
        with pytest.raises(ConfigError, match="is a precision file, which only `codesign export --precision FILE`"):
            parse_precision(text, "--precision")
