import json

import pytest
import torch

from codesign.data import load_dataset
from codesign.errors import CodesignError
from codesign.incremental import estimate_comparators, load_previous, parse_new_data, update, update_recipe

OLD = ["--model", "lenet300_100", "--width", "0.25", "--dataset", "mnist_mini", "--test-limit", "200",
       "--epochs", "2", "--batch-size", "100", "--method", "nest", "--param", "growth_samples=128",
       "--param", "target_density=0.1", "--param", "growth_epochs=1"]


def one_line_error(result):
    lines = [line for line in result.err.strip().splitlines() if line.strip()]
    return result.code == 2 and len(lines) == 1 and lines[0].startswith("error: ")


@pytest.fixture(scope="module")
def old_run(tmp_path_factory):
    """A NeST model trained on the old part (samples 0..599) of mnist_mini."""
    from codesign.cli import main

    out = tmp_path_factory.mktemp("old")
    assert main(["train", *OLD, "--train-limit", "600", "--out", str(out)]) == 0
    return out


def test_incremental_update_from_the_cli_reports_update_scratch_and_finetune_costs(cli, old_run, tmp_path):
    r = cli("train", "--resume-from", old_run / "compact" / "model.pt", "--new-data", "600:1200", "--epochs", "2",
            "--compare", "run", "--out", tmp_path)
    assert r.code == 0, r.err
    for needle in ("update", "scratch", "finetune", "gp_scratch", "saved", "start model"):
        assert needle in r.out
    report = json.loads((tmp_path / "incremental.json").read_text())
    assert report["data"] == {"dataset": "mnist_mini", "old": [0, 600], "new": [600, 1200], "replay": 0.2,
                              "replayed_samples": 120, "update_samples": 720, "old_plus_new_samples": 1200}
    update_cost = report["update"]["train_flops_sparse"]
    assert update_cost > 0 and set(report["comparators"]) == {"scratch", "finetune", "gp_scratch"}
    for name, row in report["comparators"].items():
        assert row["how"] == "ran" and row["train_flops_sparse"] > 0 and row["test_acc"] is not None
        assert report["savings"][f"vs_{name}"]["sparse"] == pytest.approx(1 - update_cost / row["train_flops_sparse"])
    assert (tmp_path / "compact" / "model.pt").exists()
    longer = cli("train", "--resume-from", old_run / "compact" / "model.pt", "--new-data", "600:1200", "--epochs", "3",
                 "--out", tmp_path, "--resume")     # it trained a third epoch on the 2-epoch schedule, silently
    assert longer.code == 2 and "cannot change train.epochs to 3" in longer.err
    # the estimates are what running the dense comparators measures
    previous = load_previous(old_run)
    cfg = update_recipe(previous, parse_new_data("600:1200"), 0.2, overrides={"train.epochs": 2})
    splits = load_dataset("mnist_mini", test_limit=200)
    estimated = estimate_comparators(cfg, previous, 1200, 720, len(splits.train[1]), splits)
    for name in ("scratch", "finetune"):
        assert estimated[name]["train_flops_sparse"] == pytest.approx(report["comparators"][name]["train_flops_sparse"])
    assert estimated["gp_scratch"]["train_flops_sparse"] == pytest.approx(
        report["comparators"]["gp_scratch"]["train_flops_sparse"], rel=0.3)


def test_update_recipe_adopts_the_model_and_selects_new_plus_replayed_data(old_run):
    previous = load_previous(old_run)
    assert previous.model_file == old_run / "compact" / "model.pt" and previous.cost is not None
    cfg = update_recipe(previous, parse_new_data("mnist_mini:600:"), 0.5, overrides={"train.epochs": 1})
    assert cfg.method.name == "nest" and cfg.method.params["start"] == "model"
    assert cfg.method.params["target_density"] == 0.1 and cfg.data.train_limit is None
    assert "growth_epochs" not in cfg.method.params                 # the update's own growth phase
    assert cfg.data.options["subset"] == {"start": 600, "stop": None, "replay": 0.5}
    assert cfg.name.endswith("_update") and cfg.train.epochs == 1


class Crash(Exception):
    pass


def test_a_crashed_update_resumes_bit_identically(old_run, tmp_path):
    def recipe():
        previous = load_previous(old_run)
        return previous, update_recipe(previous, parse_new_data("600:900"), 0.2, overrides={"train.epochs": 3})

    previous, cfg = recipe()
    reference = update(cfg, previous, tmp_path / "ref", compare="none")

    def crash(kind, payload):
        if kind == "step" and payload["epoch"] == 2 and payload["step"] == 1:
            raise Crash()

    previous, cfg = recipe()
    with pytest.raises(Crash):
        update(cfg, previous, tmp_path / "run", compare="none", events=crash)
    previous, cfg = recipe()
    resumed = update(cfg, previous, tmp_path / "run", compare="none", resume=True)
    a, b = reference.fit.model.state_dict(), resumed.fit.model.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.report["update"]["train_flops_sparse"] == reference.report["update"]["train_flops_sparse"]


@pytest.mark.parametrize("args,needle", [
    (["--new-data", "600:1200"], "needs both --resume-from"),
    (["--resume-from", "nowhere", "--new-data", "600:1200"], "not found: nowhere"),
    (["--resume-from", "OLD", "--new-data", "lots"], "expects [DATASET:]START:STOP"),
    (["--resume-from", "OLD", "--new-data", "300:1200"], "overlaps the training samples"),
    (["--resume-from", "OLD", "--new-data", "mnist:600:1200"], "same dataset"),
    (["--resume-from", "OLD", "--new-data", "600:1200", "--compare", "guess"], "--compare must be one of"),
])
def test_incremental_mistakes_are_one_line_errors(cli, old_run, tmp_path, args, needle):
    r = cli("train", *[str(old_run) if a == "OLD" else a for a in args], "--out", tmp_path)
    assert one_line_error(r), (r.code, r.err)
    assert needle in r.err


def test_parse_new_data():
    assert parse_new_data("30000:60000").start == 30000 and parse_new_data("mnist:5:").stop is None
    with pytest.raises(CodesignError):
        parse_new_data("0:10")
