"""`codesign list`: every name whole in an 80-column terminal; the shipped recipes and sweep specs with
a description each."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from codesign.config import shipped_recipes
from codesign.sweep import shipped_specs

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def narrow(monkeypatch):
    from codesign.cli import console as console_mod

    monkeypatch.setattr(console_mod.console, "width", 80)


def _names(out: str):
    """The first cell of each table row."""
    return [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│")]


@pytest.mark.parametrize("what, shipped", [("recipes", shipped_recipes), ("sweeps", shipped_specs)])
def test_every_name_is_whole_at_80_columns(cli, narrow, what, shipped):
    result = cli("list", what)
    assert result.code == 0, result.err
    assert "…" not in result.out and max(len(line) for line in result.out.splitlines()) <= 80
    assert sorted(n for n in _names(result.out) if n) == sorted(shipped())


def test_sweeps_show_the_description_each_spec_gives(cli):
    result = cli("list", "sweeps")
    text = " ".join(result.out.replace("│", " ").split())
    for name, path in shipped_specs().items():
        description = yaml.safe_load(path.read_text())["description"]
        assert " ".join(description.split()[:4]) in text, name


def test_a_recipe_description_is_its_first_sentence_not_a_cut_line(cli):
    text = " ".join(cli("list", "recipes").out.replace("│", " ").split())
    assert "(the LHC jet dataset is not bundled; point data.name at your own loader to use it)." in text
    assert "LeNet-5 on the 6,000/1,000 MNIST digits shipped with codesign." in text


def test_help_and_readme_name_the_sweeps(cli):
    result = cli("list", "--help")
    assert result.code == 0 and "sweeps" in result.out
    sweeps_section = README.read_text().split("## Sweeps and reports")[1].split("\n## ")[0]
    assert "codesign list sweeps" in sweeps_section


def test_methods_have_no_empty_size_column(cli):
    header = next(line for line in cli("list", "methods").out.splitlines() if "method" in line)
    assert [c.strip() for c in header.split("┃") if c.strip()] == ["method", "description"]


def test_devices_show_the_aliases_users_are_told_to_type(cli, narrow):
    """README and docs/devices.md tell users to type pynq-z2 or u250; `list devices` showed none of them."""
    from codesign.sim import load_device
    from codesign.sim.device import shipped_device_names

    result = cli("list", "devices")
    assert result.code == 0 and max(len(line) for line in result.out.splitlines()) <= 80
    header = next(line for line in result.out.splitlines() if "device" in line)
    assert [c.strip() for c in header.split("┃") if c.strip()] == ["device", "part", "aliases", "description"]
    cells = " ".join(line.split("│")[3].strip() for line in result.out.splitlines() if line.startswith("│"))
    for name in shipped_device_names():
        for alias in load_device(name).aliases:
            assert alias in cells.replace(", ", " ").split(), (name, alias)
