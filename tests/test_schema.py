"""YAML files: an empty one (nothing, or only comments) is refused by every reader, never read as defaults."""
import pytest

from codesign.config import Recipe
from codesign.errors import ConfigError
from codesign.schema import validate



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


@pytest.mark.parametrize("key", ["float", "int", "list", "dict"])
def test_an_unknown_key_spelled_like_a_type_is_named(key):
    """A key named like one of pydantic's union member tags ('float') is still the user's key: one line, not
    an IndexError out of the error formatting."""
    with pytest.raises(ConfigError, match=f"unknown key '{key}'"):
        validate(Recipe, {key: None}, "r.yaml")
    with pytest.raises(ConfigError, match=f"unknown key 'target.{key}'"):
        validate(Recipe, {"target": {key: 1}}, "r.yaml")
