"""The CLI's progress displays: an error that ends a command inside one is still its only stderr line."""
import pytest

from tests.cli_checks import assert_one_line_error

SMALL = ["--width", "0.1", "--epochs", "1", "--train-limit", "64", "--test-limit", "64"]


@pytest.mark.parametrize("args, needle", [
    (["--model", "lenet300_100", "--dataset", "mnist_mini", "--method", "magnitude", "--fit", "xc7z020"],
     "structure: structured only"),
    (["--model", "lenet300_100", "--dataset", "mnist_mini", "--set", "data.options.foo=1"], "has no option 'foo'"),
    (["--model", "lenet5", "--dataset", "synthetic", "--set", "data.options.in_shape=[16]"],
     "does not fit its input of shape (16,)"),
])
def test_an_error_inside_the_training_display_is_one_line(cli, tmp_path, args, needle):
    """(rich printed an empty line when its display stopped, before `error: ...`)"""
    r = cli("train", *args, *SMALL, "--out", tmp_path / "run")
    assert r.err.startswith("error: "), repr(r.err)          # not '\nerror: ...'
    assert_one_line_error(r, needle)


def test_an_error_inside_the_export_display_is_one_line(cli, tmp_path):
    r = cli("export", "--model", "lenet5", "--width", "0.25", "--target", "hls", "--precision", "ap_fixed<16,6>",
            "--reuse-factor", "0", "--out", tmp_path / "e")
    assert r.err.startswith("error: "), repr(r.err)
    assert_one_line_error(r, "reuse")
