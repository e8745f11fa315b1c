import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from codesign.checkpoint import load_model
from codesign.config import load_recipe
from codesign.errors import CodesignError
from codesign.flops import model_cost
from codesign.train import fit
from codesign.zoo import create_model
from tests.device_files import device_file

TINY = {"model.name": "lenet300_100", "model.width": 0.1, "data.name": "synthetic",
        "data.options": {"in_shape": [1, 28, 28], "n_train": 512, "n_test": 128},
        "train.epochs": 3, "train.batch_size": 64, "optim.lr": 0.05}


def recipe(**more):
    return load_recipe(None, {**TINY, **more})


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_fit_learns_and_writes_artifacts(tmp_path):
    res = fit(recipe(), tmp_path)
    assert len(res.history) == 3
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    for name in ("config.yaml", "train/ckpt.pt", "train/model.pt", "train/history.csv", "train/cost.json"):
        assert (tmp_path / name).exists(), name
    model, meta = load_model(tmp_path / "train" / "model.pt")
    assert meta["source"] == "trained"
    assert same(weights(model), weights(res.model))


def test_a_model_handed_to_fit_gets_the_trial_run_of_every_model(tmp_path):
    """A module passed by hand that runs on one sample only failed in the first batch with a RuntimeError."""
    from codesign.errors import ConfigError

    class BatchOfOne(torch.nn.Linear):
        def forward(self, x):
            return super().forward(x.view(1, -1))

    with pytest.raises(ConfigError, match="runs on one input but not on a batch of 2 inputs of shape"):
        fit(recipe(), tmp_path, model=BatchOfOne(784, 10))
    assert not (tmp_path / "config.yaml").exists()


def test_same_seed_same_weights_different_seed_differs(tmp_path):
    a = fit(recipe(), tmp_path / "a").model
    b = fit(recipe(), tmp_path / "b").model
    c = fit(recipe(**{"train.seed": 1}), tmp_path / "c").model
    assert same(weights(a), weights(b))
    assert not same(weights(a), weights(c))


class Crash(Exception):
    pass


def test_crash_mid_epoch_then_resume_is_bit_identical(tmp_path):
    reference = weights(fit(recipe(), tmp_path / "ref").model)

    def crash_in_epoch_two(kind, payload):
        if kind == "step" and payload["epoch"] == 1 and payload["step"] == 3:
            raise Crash()

    with pytest.raises(Crash):
        fit(recipe(), tmp_path / "run", events=crash_in_epoch_two)
    assert (tmp_path / "run" / "train" / "ckpt.pt").exists()
    resumed = fit(recipe(), tmp_path / "run", resume=True)
    assert resumed.history[0]["epoch"] == 1 and len(resumed.history) == 3
    assert same(weights(resumed.model), reference)


def test_existing_run_needs_resume_or_force(tmp_path):
    fit(recipe(**{"train.epochs": 1}), tmp_path)
    with pytest.raises(CodesignError, match="--resume"):
        fit(recipe(**{"train.epochs": 1}), tmp_path)
    fit(recipe(**{"train.epochs": 1}), tmp_path, overwrite=True)


def test_resume_with_a_different_recipe_is_refused(tmp_path):
    fit(recipe(**{"train.epochs": 1}), tmp_path)
    with pytest.raises(CodesignError, match="different 'optim'"):
        fit(recipe(**{"train.epochs": 2, "optim.lr": 0.01}), tmp_path, resume=True)


@pytest.mark.parametrize("resumed_target", [{"target.fit": True, "target.device": "xc7z020", "target.max_latency_us": 5.0},
                                            {"target.fit": False, "target.max_latency_us": None}])
def test_resume_with_a_different_budget_is_refused(tmp_path, resumed_target):
    budget = {"method.name": "magnitude", "method.params": {"structure": "structured"}, "target.fit": True,
              "target.device": "xc7z020", "target.max_latency_us": 20.0}
    fit(recipe(**{"train.epochs": 1, **budget}), tmp_path)
    with pytest.raises(CodesignError, match="different 'target'"):
        fit(recipe(**{"train.epochs": 2, **budget, **resumed_target}), tmp_path, resume=True)


def test_resume_names_the_budgets_device_by_any_alias(tmp_path):
    """--fit pynq-z2 resumes a run trained with --fit xc7z020: one device (it was 'a different target')."""
    budget = {"method.name": "magnitude", "method.params": {"structure": "structured"}, "target.fit": True,
              "target.max_latency_us": 20.0, "train.epochs": 1}
    fit(recipe(**budget, **{"target.device": "xc7z020"}), tmp_path)
    resumed = fit(recipe(**budget, **{"target.device": "pynq-z2"}), tmp_path, resume=True)
    assert len(resumed.history) == 1
    with pytest.raises(CodesignError, match="different 'target'"):
        fit(recipe(**budget, **{"target.device": "xcu250"}), tmp_path, resume=True)


@pytest.mark.parametrize("precision, below", [("ap_fixed<8,2>", True), ("fixed<24,10,RND_CONV,SAT>", False)])
def test_a_fit_run_reports_its_fixed_point_agreement_at_the_budgets_precision(tmp_path, precision, below):
    """A --fit run's budget prices hardware at its precision; the end of the run says how that design answers: the
    top-1 agreement of the export's emulation of hls4ml arithmetic at that precision with the float model, on
    held-out test samples, in the summary (cost.json), RUN/sim/report.json and report.md, and one warning line
    right after the budget's verdict when it is clearly below the export's --target-agreement. At ap_fixed<8,2>
    fc1's results wrap (2 integer bits, values past 10); before, the run said only "budget met"."""
    said = []
    budget = {"method.name": "magnitude", "method.params": {"structure": "structured"}, "target.fit": True,
              "target.device": "xc7z020", "target.max_latency_us": 200.0, "target.precision": precision}
    res = fit(recipe(**{"train.epochs": 1, "data.name": "mnist_mini", "data.options": {}, **budget}), tmp_path,
              events=lambda kind, p: said.append(p["text"]) if kind == "message" else None)
    s = res.summary
    assert s["fixed_precision"] == precision and s["fixed_samples"] == 256 and s["fixed_float_accuracy"] > 0.5
    assert (s["fixed_agreement"] < 0.5) is below and ("fixed_warning" in s) is below
    verdict = next(i for i, m in enumerate(said) if m.startswith("budget "))
    assert "fixed point at " + precision in said[verdict + 1]
    assert said[verdict + 1].startswith("warning: ") is below
    if below:
        from codesign.target import DEFAULT_TARGET_AGREEMENT

        assert f"{DEFAULT_TARGET_AGREEMENT:g}" in s["fixed_warning"] and "fc1" in s["fixed_warning"]
    assert json.loads((tmp_path / "train" / "cost.json").read_text())["fixed_agreement"] == s["fixed_agreement"]
    report = json.loads((tmp_path / "sim" / "report.json").read_text())
    assert report["fixed_point"]["agreement"] == s["fixed_agreement"]
    assert report["fixed_point"]["below_target"] is below
    markdown = (tmp_path / "sim" / "report.md").read_text()
    assert "## Fixed-point arithmetic" in markdown and ("**Warning:" in markdown.split("## Fixed")[1]) is below


def test_resume_can_extend_epochs(tmp_path):
    fit(recipe(**{"train.epochs": 1}), tmp_path)
    res = fit(recipe(**{"train.epochs": 2}), tmp_path, resume=True)
    assert [h["epoch"] for h in res.history] == [1, 2]


def test_training_flops_follow_model_size(tmp_path):
    res = fit(recipe(**{"train.epochs": 1}), tmp_path)
    cost = model_cost(create_model("lenet300_100", width=0.1), (1, 28, 28))
    assert res.summary["flops_dense"] == cost.flops_dense
    assert res.summary["train_flops_dense"] == pytest.approx(3 * cost.flops_dense * 512)


def test_flop_counts_by_hand():
    cost = model_cost(create_model("lenet5"), (1, 28, 28))
    macs = 20 * 25 * 24 * 24 + 50 * 20 * 25 * 8 * 8 + 800 * 500 + 500 * 10
    assert cost.flops_dense == 2 * macs and cost.params == 431_080
    model = create_model("lenet300_100")
    with torch.no_grad():
        model.fc1.weight[:, :392] = 0
    sparse = model_cost(model, (1, 28, 28))
    assert sparse.flops_sparse == sparse.flops_dense - 2 * 300 * 392
    assert sparse.nonzeros == 266_610 - 300 * 392


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_minus_nine_then_resume_matches_unkilled_run(tmp_path):
    args = [sys.executable, "-m", "codesign", "train", "--model", "lenet300_100", "--width", "0.1",
            "--dataset", "synthetic", "--set", "data.options={n_train: 8192, n_test: 128}",
            "--epochs", "6", "--batch-size", "32", "--threads", "1"]
    ref = subprocess.run(args + ["--out", str(tmp_path / "ref")], capture_output=True, text=True, timeout=300)
    assert ref.returncode == 0, ref.stderr
    proc = subprocess.Popen(args + ["--out", str(tmp_path / "run")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ckpt = tmp_path / "run" / "train" / "ckpt.pt"
    deadline = time.time() + 120
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    killed = proc.poll() is None            # at once: on an idle machine an epoch of this model takes < 0.5 s
    os.kill(proc.pid, signal.SIGKILL) if killed else None
    proc.wait()
    again = subprocess.run(args + ["--out", str(tmp_path / "run"), "--resume"], capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    a, _ = load_model(tmp_path / "ref" / "train" / "model.pt")
    b, _ = load_model(tmp_path / "run" / "train" / "model.pt")
    assert same(weights(a), weights(b))
    assert killed, "the run finished before it could be killed; make it longer"


BUDGET = {"method.name": "magnitude", "method.params": {"structure": "structured"}, "target.fit": True,
          "target.max_latency_us": 20.0, "train.epochs": 1}


def test_resume_refuses_a_device_file_changed_since(tmp_path):
    """A device file edited after the run started is another budget: refused, naming the file and what changed,
    and the run stays as it was (it resumed, half under each budget)."""
    device = device_file(tmp_path / "mine.yaml", dsp=220)
    fit(recipe(**BUDGET, **{"target.device": str(device)}), tmp_path / "run")
    before = (tmp_path / "run" / "train" / "ckpt.pt").read_bytes()
    device_file(device, dsp=2200)
    with pytest.raises(CodesignError, match=r"mine\.yaml.*changed since.*resources\.dsp 220 → 2200"):
        fit(recipe(**BUDGET, **{"target.device": str(device)}), tmp_path / "run", resume=True)
    assert (tmp_path / "run" / "train" / "ckpt.pt").read_bytes() == before


def test_the_run_records_the_device_files_content_and_resumes_from_it_anywhere(tmp_path):
    """config.yaml holds the device the run trained for, not a relative path: it trains again (or resumes)
    with the file gone, and the same content under another path is the same device."""
    import yaml

    device = device_file(tmp_path / "mine.yaml", dsp=220)
    fit(recipe(**BUDGET, **{"target.device": str(device)}), tmp_path / "run")
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["target"]["device"]["resources"]["dsp"]["value"] == 220
    moved = device_file(tmp_path / "elsewhere.yaml", dsp=220)
    device.unlink()
    assert len(fit(recipe(**BUDGET, **{"target.device": str(moved)}), tmp_path / "run", resume=True).history) == 1
    again = fit(load_recipe(tmp_path / "run" / "config.yaml"), tmp_path / "run", resume=True)
    assert len(again.history) == 1


def test_a_shipped_device_name_is_recorded_as_before(tmp_path):
    import yaml

    fit(recipe(**BUDGET, **{"target.device": "pynq-z2"}), tmp_path / "run")
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["target"]["device"] == "pynq-z2"


def test_a_checkpoint_that_recorded_a_device_path_still_resumes(tmp_path):
    """Runs made before devices were recorded by content hold the path: they resume with the file as it is."""
    from codesign import atomic

    device = device_file(tmp_path / "mine.yaml", dsp=220)
    fit(recipe(**BUDGET, **{"target.device": str(device)}), tmp_path / "run")
    ckpt_path = tmp_path / "run" / "train" / "ckpt.pt"
    ckpt = torch.load(ckpt_path, weights_only=False)
    ckpt["recipe"]["target"]["device"] = str(device)
    atomic.torch_save(ckpt_path, ckpt)
    assert len(fit(recipe(**BUDGET, **{"target.device": str(device)}), tmp_path / "run", resume=True).history) == 1
