"""create_model refuses an input shape the architecture cannot take, in one line, before any work."""
import pytest

from codesign.errors import CodesignError
from codesign.zoo import create_model


@pytest.mark.parametrize("name,shape", [("lenet5", (16,)), ("resnet20", (16,)), ("vgg19", (1, 4, 4))])
def test_a_shape_the_model_cannot_take_is_a_user_error(name, shape):
    with pytest.raises(CodesignError, match=rf"model '{name}' does not fit its input of shape"):
        create_model(name, width=0.125, in_shape=shape)


def test_the_trial_forward_leaves_the_model_training():
    assert create_model("lenet5", width=0.25).training
