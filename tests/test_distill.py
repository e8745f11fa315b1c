import pytest
import torch

from codesign.config import load_recipe
from codesign.errors import CodesignError
from codesign.flops import model_cost
from codesign.train import fit
from codesign.zoo import create_model

TINY = {"model.name": "lenet300_100", "model.width": 0.1, "data.name": "synthetic",
        "data.options": {"in_shape": [1, 28, 28], "n_train": 512, "n_test": 256, "seed": 3},
        "train.epochs": 2, "train.batch_size": 64, "optim.lr": 0.05}


def recipe(**more):
    return load_recipe(None, {**TINY, **more})


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    run = tmp_path_factory.mktemp("teacher")
    fit(recipe(**{"model.width": 0.5, "train.epochs": 6}), run)
    return run


def test_the_teacher_changes_what_the_student_learns_and_costs_its_forward_passes(tmp_path, teacher):
    plain = fit(recipe(), tmp_path / "plain")
    taught = fit(recipe(**{"train.distill": {"teacher": str(teacher), "temperature": 2.0, "weight": 0.5}}),
                 tmp_path / "taught")
    assert not torch.equal(plain.model.fc1.weight, taught.model.fc1.weight)
    # the reported training loss is still the data loss (cross-entropy), not the blend
    assert taught.history[-1]["train_loss"] == pytest.approx(plain.history[-1]["train_loss"], rel=0.5)
    teacher_flops = model_cost(create_model("lenet300_100", width=0.5), (1, 28, 28)).flops_dense
    extra = taught.summary["train_flops_dense"] - plain.summary["train_flops_dense"]
    assert extra == pytest.approx(2 * 512 * teacher_flops)


def test_weight_zero_is_plain_training(tmp_path, teacher):
    plain = fit(recipe(), tmp_path / "plain").model
    zero = fit(recipe(**{"train.distill": {"teacher": str(teacher), "weight": 0.0}}), tmp_path / "zero").model
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), zero.state_dict().values()))


def test_resume_needs_the_same_teacher_setting(tmp_path, teacher):
    fit(recipe(**{"train.epochs": 1, "train.distill": {"teacher": str(teacher)}}), tmp_path)
    with pytest.raises(CodesignError, match="train.distill"):
        fit(recipe(**{"train.epochs": 2, "train.distill": {"teacher": str(teacher), "temperature": 8.0}}),
            tmp_path, resume=True)


def test_a_teacher_that_does_not_fit_the_run_is_a_clear_error(tmp_path, teacher):
    with pytest.raises(CodesignError, match="classes"):
        fit(recipe(**{"data.options": {**TINY["data.options"], "num_classes": 4},
                      "train.distill": {"teacher": str(teacher)}}), tmp_path / "a")
    with pytest.raises(CodesignError, match="does not take this run's input"):
        fit(recipe(**{"data.options": {**TINY["data.options"], "in_shape": [1, 20, 20]},
                      "train.distill": {"teacher": str(teacher)}}), tmp_path / "b")
    with pytest.raises(CodesignError, match="not found"):
        fit(recipe(**{"train.distill": {"teacher": str(tmp_path / "nothing")}}), tmp_path / "c")
    (tmp_path / "teacher.yaml").write_text("name: not a model\n")
    with pytest.raises(CodesignError, match="not a model file codesign reads") as err:
        fit(recipe(**{"train.distill": {"teacher": str(tmp_path / "teacher.yaml")}}), tmp_path / "d")
    assert "delete" not in str(err.value)


def test_augmenting_data_that_is_not_images_is_refused(tmp_path):
    with pytest.raises(CodesignError, match="needs images"):
        fit(recipe(**{"data.options": {**TINY["data.options"], "in_shape": [784]}, "data.augment": "shift"}),
            tmp_path)
