import pytest

from codesign.config import load_recipe
from codesign.flops import model_cost
from codesign.methods import build_method
from codesign.train import fit
from codesign.zoo import create_model

TINY = [("lenet300_100", 0.4, [1, 28, 28]), ("lenet5", 0.5, [1, 28, 28]), ("resnet20", 0.5, [3, 16, 16])]
IDS = [t[0] for t in TINY]
N_TRAIN = 128


def recipe(name, width, shape, params, epochs=4, val=0.0):
    return load_recipe(None, {"model.name": name, "model.width": width, "data.name": "synthetic",
                              "data.options": {"in_shape": shape, "n_train": N_TRAIN, "n_test": 32},
                              "data.val_fraction": val, "train.epochs": epochs, "train.batch_size": 64,
                              "method.name": "cgap", "method.params": params})


def spy(method, record):
    setup, end = method.setup, method.on_epoch_end

    def on_setup(ctx):
        setup(ctx)
        record.append(("seed", ctx.units.sizes()))

    def on_epoch_end(ctx):
        changed = end(ctx)
        record.append((method.phase, ctx.units.sizes()))
        return changed

    method.setup, method.on_epoch_end = on_setup, on_epoch_end
    return method


@pytest.mark.parametrize("name,width,shape", TINY, ids=IDS)
@pytest.mark.parametrize("init", ["split", "kaiming"])
def test_cgap_grows_from_a_seed_then_prunes(name, width, shape, init):
    params = {"seed_width": 0.25, "growth_ratio": 1.0, "growth_epochs": 2, "patience": 5, "init": init}
    record = []
    method = spy(build_method("cgap", params), record)
    res = fit(recipe(name, width, shape, params), None, method=method)
    full = method.full_sizes
    seed = record[0][1]
    assert all(seed[k] < full[k] for k in full)
    grown = record[1][1]                                         # after epoch 1: one growth step
    assert record[1][0] == "grow" and all(grown[k] == min(2 * seed[k], full[k]) for k in full)
    assert record[2][0] == "finetune" and method.stop_reason == "growth epochs"
    pruned = record[2][1]
    assert all(pruned[k] == max(1, grown[k] - int(0.4 * grown[k])) for k in full)
    assert record[-1][1] == pruned                               # fine-tuning keeps the structure
    assert res.summary["method_grown_units"] > 0 and res.summary["method_pruned_units"] > 0
    big = model_cost(create_model(name, width=width, in_shape=shape), shape)
    assert res.summary["flops_dense"] < big.flops_dense


def test_training_flops_follow_the_size_of_every_epoch():
    params = {"seed_width": 0.25, "growth_ratio": 1.0, "growth_epochs": 2}
    res = fit(recipe("lenet5", 0.5, [1, 28, 28], params), None)
    seed = model_cost(create_model("lenet5", width=0.5 * 0.25, in_shape=(1, 28, 28)), (1, 28, 28)).flops_dense
    start_costs = [seed] + [row["flops_dense"] for row in res.history[:-1]]
    assert res.summary["train_flops_dense"] == pytest.approx(sum(3 * c * N_TRAIN for c in start_costs))
    assert len(set(start_costs)) == 3                            # seed, grown, pruned


def test_growth_every_n_steps_and_plateau_stop():
    params = {"seed_width": 0.25, "growth_interval": 1, "growth_ratio": 0.5, "patience": 1, "growth_epochs": 3}
    record = []
    method = spy(build_method("cgap", params), record)
    fit(recipe("lenet300_100", 0.4, [1, 28, 28], params, val=0.25), None, method=method)
    seed, first = record[0][1], record[1][1]
    assert all(first[k] > seed[k] for k in seed)                 # grew within the first epoch (2 steps)
    assert method.stop_reason == "plateau" and method.phase == "finetune"     # patience 1, before the growth epochs end
    assert method.growth_steps >= 2



@pytest.mark.parametrize("crash_epoch", [1, 2])
def test_crash_then_resume_of_a_grown_and_pruned_model_is_bit_identical(crash_resume, tmp_path, crash_epoch):
    params = {"seed_width": 0.25, "growth_ratio": 1.0, "growth_epochs": 2}
    cfg = recipe("resnet20", 0.5, [3, 16, 16], params, val=0.25)
    reference, resumed = crash_resume(cfg, tmp_path, epoch=crash_epoch, step=1)
    assert resumed.summary["train_flops_dense"] == reference.summary["train_flops_dense"]


def test_cgap_from_the_cli_on_mnist_mini(cli, tmp_path):
    r = cli("train", "--model", "lenet5", "--width", "0.5", "--dataset", "mnist_mini", "--train-limit", "512",
            "--test-limit", "256", "--epochs", "3", "--method", "cgap", "--param", "growth_ratio=1.0",
            "--out", tmp_path)
    assert r.code == 0, r.err
    assert "method_grown_units" in r.out and "cgap: growth stopped" in r.err
    assert (tmp_path / "compact" / "model.pt").exists()


def test_growth_epochs_count_the_growth_phase_and_one_gives_no_step_so_it_is_refused():
    """``growth_epochs`` N: N epochs of growth phase, N - 1 growth steps (the last ends in pruning); N = 1 grows
    never with growth_interval 0, so it is a one-line error saying how to get a step (it ran silently with
    none). The default is half the run but at least two, so a 3-epoch run grows once (it grew never)."""
    from codesign.errors import ConfigError

    with pytest.raises(ConfigError, match="growth_epochs 2 for one step"):
        build_method("cgap", {"growth_epochs": 1})
    assert build_method("cgap", {"growth_epochs": 1, "growth_interval": 5}).cfg.growth_epochs == 1
    method = build_method("cgap", {})
    assert [method.growth_budget(n) for n in (1, 2, 3, 4, 8)] == [1, 1, 2, 2, 4]
    run = fit(recipe("lenet300_100", 0.4, [1, 28, 28], {"seed_width": 0.25, "patience": 5}, epochs=3))
    assert run.summary["method_growth_steps"] == 1
