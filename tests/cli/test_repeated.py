"""An option given twice with two values is refused in one line (exit 2) by every command: a single-valued
option (the last one won silently: --device xc7z020 --device xcu250 simulated the U250), a flag given both ways
(--plot --no-plot), and one key of a repeatable KEY=VALUE option (--set, --param, --model-arg). The same value
twice is fine."""
from __future__ import annotations

import pytest

from codesign.cli import _register_commands, app
from codesign.errors import ConfigError


def _commands():
    import typer

    _register_commands()
    stack = [((), typer.main.get_command(app))]
    while stack:
        path, command = stack.pop()
        yield path, command
        stack.extend(((*path, name), sub) for name, sub in sorted(getattr(command, "commands", {}).items()))


SINGLE_VALUED = sorted((path, param.opts[0]) for path, command in _commands() for param in command.params
                       if param.param_type_name == "option" and not param.multiple and not param.is_flag
                       and not param.count and param.nargs == 1)


def test_every_command_has_single_valued_options():
    assert {path[0] for path, _ in SINGLE_VALUED if path} >= {"train", "export", "simulate", "compact", "sweep"}


@pytest.mark.parametrize("path, option", SINGLE_VALUED, ids=[" ".join((*p, o)) for p, o in SINGLE_VALUED])
def test_a_single_valued_option_given_twice_with_two_values_is_refused(cli, tmp_path, path, option):
    r = cli(*path, option, "1", option, "2")
    assert r.code == 2 and r.err.startswith(f"error: {option} given twice (1 and 2); give it once"), r.err
    assert len(r.err.strip().splitlines()) == 1


def test_the_testers_repeats_are_refused_before_anything_runs(cli, tmp_path):
    r = cli("simulate", "--model", "jet_mlp", "--device", "xc7z020", "--device", "xcu250", "--out", tmp_path / "s")
    assert r.code == 2 and "--device given twice (xc7z020 and xcu250); give it once" in r.err
    r = cli("export", "--model", "jet_mlp", "--target", "hls", "--reuse-factor", "4", "--reuse-factor", "64",
            "--out", tmp_path / "e")
    assert r.code == 2 and "--reuse-factor given twice (4 and 64)" in r.err
    r = cli("simulate", "--model", "jet_mlp", "--input-shape", "16", "--input-shape", "1,28,28", "--out", tmp_path)
    assert r.code == 2 and "--input-shape given twice (16 and 1,28,28)" in r.err
    r = cli("simulate", "--model", "jet_mlp", "--plot", "--no-plot", "--out", tmp_path / "s")
    assert r.code == 2 and "--plot/--no-plot given both ways; give one of them" in r.err
    assert not any(tmp_path.iterdir())


def test_the_same_value_twice_is_fine(cli, tmp_path):
    r = cli("simulate", "--model", "jet_mlp", "--device", "xc7z020", "--device", "xc7z020", "--clock-mhz", "200",
            "--clock-mhz", "200.0", "--no-plot", "--no-plot", "--out", tmp_path / "s")
    assert r.code == 0, r.err


@pytest.mark.parametrize("args, needle", [
    (["--model", "jet_mlp", "--set", "train.epochs=1", "--set", "train.epochs=2"],
     "--set train.epochs=1 and --set train.epochs=2 disagree; give one of them"),
    (["--model", "jet_mlp", "--set", "train={epochs: 3}", "--set", "train.epochs=2"],
     "--set train={epochs: 3} and --set train.epochs=2 disagree"),
    (["--model", "jet_mlp", "--method", "magnitude", "--param", "target_density=0.5", "--param", "target_density=0.3"],
     "--param target_density=0.5 and --param target_density=0.3 disagree"),
    (["--model", "tests.user_models:nan_weights", "--model-arg", "in_features=5", "--model-arg", "in_features=3"],
     "--model-arg in_features given twice (5 and 3); give it once"),
])
def test_one_key_of_a_key_value_option_given_twice_with_two_values_is_refused(cli, tmp_path, args, needle):
    r = cli("train", "--dataset", "synthetic", *args, "--out", tmp_path / "r")
    assert r.code == 2 and needle in r.err, r.err
    assert not (tmp_path / "r").exists()


def test_key_value_options_take_the_same_value_twice_and_different_keys():
    from codesign.cli.options import build_overrides
    from codesign.model_source import parse_model_args

    assert parse_model_args(["c=5", "c=5", "d=1"]) == {"c": 5, "d": 1}
    with pytest.raises(ConfigError, match=r"--model-arg c given twice \(5 and 3\); give it once"):
        parse_model_args(["c=5", "c=3"])
    assert build_overrides(["train.epochs=2", "train.epochs=2", "train.seed=1"], {}, ["a=1", "a=1"]) == \
        {"train.epochs": 2, "train.seed": 1, "method.params.a": 1}
    assert build_overrides(["train={epochs: 2}", "train.seed=1"], {}) == {"train": {"epochs": 2}, "train.seed": 1}
