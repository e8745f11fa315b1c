import pytest

from codesign.errors import CodesignError
from codesign.registry import Registry


def test_register_get_names_and_duplicates():
    reg = Registry("thing")

    @reg.register()
    def alpha():
        return 1

    reg.register("beta")(lambda: 2)
    assert reg.get("alpha") is alpha
    assert reg.names() == ["alpha", "beta"]
    assert "beta" in reg and len(reg) == 2
    with pytest.raises(ValueError, match="twice"):
        reg.register("alpha")(lambda: 3)


def test_unknown_name_suggests_close_matches():
    reg = Registry("thing")
    reg.register("resnet110")(object())
    with pytest.raises(CodesignError, match=r"unknown thing 'resnet11' \(did you mean: resnet110\?\)"):
        reg.get("resnet11")
