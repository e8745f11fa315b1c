import pytest
import torch

from codesign.errors import CodesignError
from codesign.zoo import create_model, list_models

# (model, kwargs, expected params, tolerance): the published architectures' parameter counts.
PUBLISHED = [
    ("lenet300_100", {}, 266_610, 0),
    ("lenet5", {}, 431_080, 0),
    ("jet_mlp", {"in_shape": (16,), "num_classes": 5}, 4_389, 0),
    ("vgg19", {"in_shape": (3, 32, 32)}, 20_035_018, 0),            # Network Slimming VGG-19, CIFAR-10
    ("resnet20", {"in_shape": (3, 32, 32)}, 270_000, 0.01),          # "0.27M" (He et al.)
    ("resnet32", {"in_shape": (3, 32, 32)}, 460_000, 0.02),          # "0.46M"
    ("resnet56", {"in_shape": (3, 32, 32)}, 850_000, 0.02),          # "0.85M"
    ("resnet110", {"in_shape": (3, 32, 32)}, 1_730_000, 0.01),      # "1.73M"
    ("resnet18", {"in_shape": (3, 224, 224), "num_classes": 1000}, 11_689_512, 0),   # torchvision count
]


def count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name,kwargs,expected,tol", PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_parameter_count_matches_published_architecture(name, kwargs, expected, tol):
    n = count(create_model(name, **kwargs))
    assert abs(n - expected) <= tol * expected, f"{name}: {n} params, published {expected}"


def test_every_registered_model_has_a_published_count_test():
    assert {p[0] for p in PUBLISHED} == set(list_models())


@pytest.mark.parametrize("name", list_models())
def test_width_multiplier_shrinks_and_forward_works(name):
    shape = (16,) if name == "jet_mlp" else ((1, 28, 28) if name.startswith("lenet") else (3, 32, 32))
    small = create_model(name, width=0.125, in_shape=shape, num_classes=7)
    full = create_model(name, width=1.0, in_shape=shape, num_classes=7)
    assert count(small) < count(full) / 4
    out = small(torch.randn(2, *shape))
    assert out.shape == (2, 7)


def test_models_adapt_to_input_shape():
    model = create_model("lenet5", in_shape=(3, 32, 32), num_classes=10)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    assert model.conv1.in_channels == 3


def test_unknown_model_names_close_matches():
    with pytest.raises(CodesignError, match="did you mean: lenet5"):
        create_model("lenet55")


def test_bad_width_is_an_error():
    with pytest.raises(CodesignError, match="width"):
        create_model("lenet5", width=0)
