import json

import pytest
import yaml


def one_line_error(result):
    lines = result.err.rstrip("\n").split("\n")     # an empty line before the error is a second line
    return result.code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.err


def test_train_from_cli_on_bundled_mnist(cli, tmp_path):
    r = cli("train", "lenet5_mnist_mini", "--width", "0.25", "--epochs", "1", "--train-limit", "512",
            "--out", tmp_path)
    assert r.code == 0, r.err
    assert "test_acc" in r.out and (tmp_path / "train" / "model.pt").exists()


@pytest.mark.parametrize("args,needle", [
    (["train", "--model", "lenet55"], "unknown model 'lenet55' (did you mean: lenet5"),
    (["train", "--model", "lenet5", "--dataset", "mnst"], "unknown dataset 'mnst' (did you mean: mnist"),
    (["train", "--method", "cgapp"], "unknown method 'cgapp'"),
    (["train", "--lr", "-1"], "optim.lr"),
    (["train", "--set", "optm.lr=1"], "unknown key 'optm'"),
    (["train", "--modle", "x"], "No such option: --modle"),
    (["train", "--epochs", "many"], "Invalid value for '--epochs'"),
    (["list", "things"], "things"),
    # options of an incremental update without one (were silently ignored)
    (["train", "--model", "lenet5", "--replay", "0.5"], "--replay: settings of an incremental update"),
    (["train", "--model", "lenet5", "--compare", "run"], "--compare: settings of an incremental update"),
])
def test_bad_inputs_are_one_line_exit_2(cli, args, needle):
    r = cli(*args)
    assert one_line_error(r), (r.code, r.err)
    assert needle in r.err


def test_malformed_yaml_recipe(cli, tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("model: {name: lenet5\n")
    r = cli("train", bad)
    assert one_line_error(r) and "malformed YAML" in r.err


def test_missing_dataset_names_the_fetch_command(cli, tmp_path):
    r = cli("train", "--model", "lenet5", "--dataset", "mnist", "--data-dir", tmp_path, "--out", tmp_path / "o")
    assert one_line_error(r) and "codesign data fetch mnist" in r.err


def test_existing_run_dir_is_refused_without_resume(cli, tmp_path):
    args = ["train", "lenet5_mnist_mini", "--width", "0.1", "--epochs", "1", "--train-limit", "128",
            "--out", tmp_path]
    assert cli(*args).code == 0
    r = cli(*args)
    assert one_line_error(r) and "--resume" in r.err
    both = cli(*args, "--resume", "--force")            # it resumed, and --force said nothing
    assert one_line_error(both) and "give one of them" in both.err


@pytest.mark.parametrize("what,needle", [("models", "lenet300_100"), ("datasets", "mnist_mini"),
                                         ("methods", "dense"), ("recipes", "lenet5_mnist")])
def test_list(cli, what, needle):
    r = cli("list", what)
    assert r.code == 0 and needle in r.out


def test_every_subcommand_has_help(cli):
    r = cli("--help")
    assert r.code == 0
    for command in ("train", "list", "data"):
        assert command in r.out
        assert cli(command, "--help").code == 0


def test_train_fit_writes_the_device_report_and_states_the_budget(cli, tmp_path):
    r = cli("train", "jet_mlp_synthetic", "--method", "magnitude", "--param", "structure=structured",
            "--param", "iterations=1", "--epochs", "2", "--train-limit", "256", "--test-limit", "128",
            "--fit", "xc7z020", "--max-latency-us", "0.3", "--out", tmp_path)
    assert r.code == 0, r.err
    cost = json.loads((tmp_path / "train" / "cost.json").read_text())
    assert cost["budget_met"] is True and cost["budget_latency_us"] <= 0.3 and cost["budget"].startswith("budget met")
    assert "budget_margin" in r.out and (tmp_path / "sim" / "report.json").exists()


def test_budget_options_need_fit(cli, tmp_path):
    r = cli("train", "jet_mlp_synthetic", "--max-util", "0.5", "--out", tmp_path)
    assert one_line_error(r) and "--fit" in r.err
    r = cli("train", "jet_mlp_synthetic", "--strategy", "Resource", "--out", tmp_path)
    assert one_line_error(r) and "--strategy" in r.err and "--fit" in r.err
    r = cli("train", "jet_mlp_synthetic", "--fit", "xc7z020", "--precision", "ap_fixed<16", "--out", tmp_path / "p")
    assert one_line_error(r) and "precision" in r.err and not (tmp_path / "p").exists()
    r = cli("train", "jet_mlp_synthetic", "--fit", "xc7z020", "--max-util", "0.8,DSP=2", "--out", tmp_path / "u")
    assert one_line_error(r) and "max_util" in r.err and "DSP" in r.err and not (tmp_path / "u").exists()


@pytest.mark.parametrize("args,message", [
    (["--fit", ""], "no device given"),
    (["--fit", "xc7z020", "--max-latency-us", "1e308"], "--max-latency-us 1e+308 is too large to count in clock "
                                                         "cycles at 100 MHz"),   # (it said: 'not finite')
    (["--fit", "xc7z020", "--max-util", "0.5,0.6"], "share of every resource twice"),
    (["--fit", "xc7z020", "--max-util", "0.8,URAM=0.5"], "xc7z020 (PYNQ-Z2) has no URAM"),
    (["--fit", "xc7z020", "--method", "rigl"], "method 'rigl' does not train to a hardware budget"),
    (["--fit", "xc7z020", "--method", "dense"], "method 'dense' does not train to a hardware budget"),
])
def test_budgets_nothing_would_honour_are_refused_before_training(cli, tmp_path, args, message):
    r = cli("train", "jet_mlp_synthetic", *args, "--out", tmp_path / "r")
    assert one_line_error(r) and message in r.err and not (tmp_path / "r").exists()


def test_train_fit_takes_the_exports_hardware_flags(cli, tmp_path):
    """--strategy/--io-type/--precision as export and simulate spell them (case as the export accepts),
    recorded in the run's target and used by the budget's folding and report."""
    r = cli("train", "jet_mlp_synthetic", "--method", "magnitude", "--param", "structure=structured",
            "--param", "iterations=1", "--epochs", "1", "--train-limit", "128", "--test-limit", "64",
            "--fit", "xc7z020", "--max-latency-us", "2", "--strategy", "resource", "--io-type", "io_parallel",
            "--precision", "ap_fixed<8,3>", "--out", tmp_path)
    assert r.code == 0, r.err
    target = yaml.safe_load((tmp_path / "config.yaml").read_text())["target"]
    assert (target["strategy"], target["io_type"], target["precision"]) == ("Resource", "io_parallel", "ap_fixed<8,3>")
    report = json.loads((tmp_path / "sim" / "report.json").read_text())
    assert {v["strategy"] for v in report["folding"]["layers"].values()} == {"Resource"}
    assert report["template"]["precision"] == "ap_fixed<8,3>" and report["template"]["io_type"] == "io_parallel"


TINY_FIT_RECIPE = """
name: tiny_fit
model: {name: jet_mlp, width: 2.0}
data: {name: synthetic, options: {in_shape: [16], num_classes: 5, n_train: 128, n_test: 64}}
train: {epochs: 1, batch_size: 64}
method: {name: magnitude, params: {structure: structured, iterations: 1}}
target: {fit: true, device: xc7z020, max_latency_us: 5.0, strategy: STRATEGY}
"""


def test_a_recipes_target_strategy_auto_reaches_the_budget(cli, tmp_path):
    """target.strategy: auto (also train --fit's default) folds as export --reuse-factor auto: per layer, so
    the 128x64 fc2 of the width-2 jet MLP takes Resource (under Latency the unroll limit leaves it fully
    serial: 86 us, and 5 us is met only by pruning it)."""
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(TINY_FIT_RECIPE.replace("STRATEGY", "auto"))
    r = cli("train", recipe, "--out", tmp_path / "run")
    assert r.code == 0, r.err
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["target"]["strategy"] == "auto"
    cost = json.loads((tmp_path / "run" / "train" / "cost.json").read_text())
    report = json.loads((tmp_path / "run" / "sim" / "report.json").read_text())
    assert cost["budget_met"] is True and "fc2" in cost["budget_reuse_factors"]
    assert report["folding"]["layers"]["fc2"]["strategy"] == "Resource" and "Resource" in cost["budget_reuse_factors"]
    from codesign.config import load_recipe
    assert load_recipe("jet_mlp_synthetic", {"target.fit": True}).target.strategy == "auto"   # the default


@pytest.mark.parametrize("how", ["recipe", "flag"])
def test_a_bad_target_strategy_is_one_line(cli, tmp_path, how):
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(TINY_FIT_RECIPE.replace("STRATEGY", "fast" if how == "recipe" else "auto"))
    r = cli("train", recipe, *(["--strategy", "fast"] if how == "flag" else []), "--out", tmp_path / "run")
    assert one_line_error(r) and "strategy" in r.err and "fast" in r.err and "auto" in r.err, r.err
    assert not (tmp_path / "run").exists()


def test_the_hardware_flags_are_one_definition(cli):
    from codesign.cli.options import IO_TYPE_HELP, STRATEGY_HELP

    for command in ("train", "export", "simulate"):
        text = " ".join(cli(command, "--help").out.split())
        assert " ".join(IO_TYPE_HELP.split()) in text and " ".join(STRATEGY_HELP.split()) in text, command


def test_precision_help_lists_the_types_each_command_takes():
    """train --fit and export refuse float, yet their --help listed it among the types."""
    import re

    import typer

    from codesign.cli import _register_commands, app

    _register_commands()
    commands = typer.main.get_command(app).commands
    helps = {name: next(p.help for p in commands[name].params if p.name == "precision")
             for name in ("train", "export", "simulate")}
    for name in ("train", "export"):
        assert not re.search(r"\bfloat\b", helps[name].replace("no float design", "")), (name, helps[name])
        assert "ap_fixed<8,3>" in helps[name] and "ap_int<8>" in helps[name]
    assert re.search(r"\bfloat\b", helps["simulate"])


def test_force_never_deletes_a_folder_that_is_not_a_run(cli, tmp_path):
    """`--force` replaces a run's own files only: someone's train/ and export/ folders stay (they were deleted)."""
    user = tmp_path / "userdir"
    (user / "train").mkdir(parents=True)
    (user / "export").mkdir()
    (user / "train" / "mine.txt").write_text("precious")
    (user / "export" / "notes.md").write_text("precious2")
    args = ["train", "lenet5_mnist_mini", "--width", "0.1", "--epochs", "1", "--train-limit", "128", "--out", user]
    for extra in ([], ["--force"]):
        r = cli(*args, *extra)
        assert one_line_error(r) and "train holds mine.txt, which --force would not replace" in r.err, r.err
    (user / "readme.txt").write_text("x")
    r = cli(*args, "--force")
    assert one_line_error(r) and "holds readme.txt" in r.err
    assert (user / "train" / "mine.txt").read_text() == "precious"
    assert (user / "export" / "notes.md").read_text() == "precious2"
    assert sorted(p.name for p in user.iterdir()) == ["export", "readme.txt", "train"]


TINY = ["--model", "lenet300_100", "--width", "0.1", "--dataset", "mnist_mini", "--train-limit", "64",
        "--test-limit", "64"]


@pytest.mark.parametrize("args, needle", [
    (["--epochs", "1", "--set", "train.epochs=2"], "--epochs 1 and --set train.epochs=2 disagree"),
    (["--epochs", "1", "--set", "train.epochs=true"], "--epochs 1 and --set train.epochs=true disagree"),
    (["--epochs", "1", "--set", "train={epochs: 3}"], "--epochs 1 and --set train={epochs: 3} disagree"),
    (["--method", "nest", "--fit", "xc7z020", "--set", "target.device=xcu250"],
     "--fit xc7z020 and --set target.device=xcu250 disagree"),
    (["--method", "nest", "--fit", "xc7z020", "--set", "target.fit=false"],
     "--fit xc7z020 and --set target.fit=false disagree"),
    (["--method", "nest", "--fit", "xc7z020", "--max-latency-us", "5", "--set", "target.max_latency_us=10"],
     "--max-latency-us 5 and --set target.max_latency_us=10 disagree"),
    (["--method", "nest", "--fit", "xc7z020", "--max-util", "0.8", "--set", "target.max_util.DSP=0.25"],
     "--max-util 0.8 and --set target.max_util.DSP=0.25 disagree"),
    (["--method", "magnitude", "--param", "iterations=2", "--set", "method.params.iterations=3"],
     "--param iterations=2 and --set method.params.iterations=3 disagree"),
])
def test_a_flag_and_a_set_that_disagree_are_refused(cli, tmp_path, args, needle):
    """(the flag won silently: --epochs 1 --set train.epochs=2 trained one epoch)"""
    r = cli("train", *TINY, *args, "--out", tmp_path / "r")
    assert one_line_error(r) and needle in r.err, r.err
    assert not (tmp_path / "r").exists()


def test_a_flag_and_a_set_that_agree_are_fine(cli, tmp_path):
    r = cli("train", *TINY, "--epochs", "1", "--set", "train.epochs=1", "--method", "nest", "--fit", "xc7z020",
            "--set", "target.device=xc7z020", "--strategy", "latency", "--set", "target.strategy=Latency",
            "--max-util", "0.8", "--set", "target.max_util=0.8", "--out", tmp_path / "r")
    assert r.code == 0, r.err
    assert yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())["target"]["strategy"] == "Latency"


def test_a_checkpoint_refuses_another_width_and_resume(cli, tmp_path):
    """(--width 0.5 trained the checkpoint's width 0.25 silently; --resume ignored --checkpoint silently)"""
    from codesign.checkpoint import save_model
    from codesign.zoo import create_model

    model = tmp_path / "m.pt"
    save_model(model, create_model("lenet300_100", width=0.25, in_shape=(1, 28, 28)), source="test")
    other = cli("train", *TINY[:2], "--width", "0.5", *TINY[4:], "--epochs", "1", "--checkpoint", model,
                "--out", tmp_path / "a")
    assert one_line_error(other) and "--width 0.5 and the checkpoint" in other.err and "width 0.25" in other.err
    both = cli("train", *TINY, "--epochs", "1", "--checkpoint", model, "--resume", "--out", tmp_path / "b")
    assert one_line_error(both) and "--resume" in both.err and f"--checkpoint {model}" in both.err
    same = cli("train", *TINY[:2], "--width", "0.25", *TINY[4:], "--epochs", "1", "--checkpoint", model,
               "--out", tmp_path / "c")
    assert same.code == 0, same.err
