"""YAML files: an empty one (nothing, or only comments) is refused by every reader, never read as defaults."""
import pytest

from codesign.errors import ConfigError


def _recipe(path):
    from codesign.config import load_recipe
    return load_recipe(path)


def _precision(path):
    from codesign.export.precision import precision_spec
    return precision_spec(path)


def _device(path):
    from codesign.sim import load_device
    return load_device(path)


@pytest.mark.parametrize("read", [_recipe, _precision, _device], ids=["recipe", "precision", "device"])
@pytest.mark.parametrize("text", ["", "# only a comment\n\n"], ids=["empty", "comments"])
def test_an_empty_yaml_file_is_refused(tmp_path, read, text):
    """(an empty recipe trained LeNet-5 on full MNIST with every default; an empty precision file was auto)"""
    path = tmp_path / "f.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=f"{path} is empty"):
        read(path)
