"""Device database: every shipped device loads, every constant carries unit/source/confidence,
aliases resolve, a user's YAML works, and bad files are one-line errors."""
import re
from pathlib import Path

import pytest
import yaml

from codesign.errors import ConfigError
from codesign.sim import list_devices, load_device
from codesign.sim.device import shipped_device_names

REQUIRED = {"xc7z020", "xczu9eg", "xcu200", "xcu250", "xcku115", "xc7vx485t", "10ax115"}
DEVICE_DIR = Path(__file__).resolve().parents[2] / "codesign" / "sim" / "devices"


def test_required_devices_are_shipped():
    assert REQUIRED <= set(shipped_device_names())
    rows = list(list_devices())
    assert {r[0] for r in rows} == set(shipped_device_names())
    assert all(len(r) == 3 and r[1] and r[2] for r in rows)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_every_constant_has_unit_source_confidence(name):
    dev = load_device(name)
    assert dev.dsp > 0 and dev.bram > 0 and dev.lut > 0 and dev.clock_mhz > 0 and dev.dram_bytes_per_s > 0
    assert len(dev.constants) > 30
    for key, q in dev.constants.items():
        assert q["unit"] and len(q["source"]) >= 3 and q["confidence"] in ("V", "V2", "D", "M", "fit"), key


@pytest.mark.parametrize("alias, name", [("pynq-z2", "xc7z020"), ("ZCU102", "xczu9eg"), ("u200", "xcu200"),
                                         ("vc707", "xc7vx485t"), ("arria10", "10ax115"), ("ku115", "xcku115")])
def test_aliases(alias, name):
    assert load_device(alias).name == name


def test_unknown_device_names_close_matches():
    with pytest.raises(ConfigError, match="did you mean.*pynq-z2"):
        load_device("pynq")


def _write(tmp_path, mutate) -> Path:
    data = yaml.safe_load((DEVICE_DIR / "xc7z020.yaml").read_text())
    mutate(data)
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_users_own_yaml_by_path(tmp_path):
    def faster(d):
        d["name"] = "my_board"
        d["clock"]["default"]["value"] = 150
        d["calibration"] = {"tiled": {"dsp_budget_fraction": {"value": 0.5, "unit": "fraction",
                                                               "source": "my lab", "confidence": "M"}}}
    dev = load_device(_write(tmp_path, faster))
    assert dev.name == "my_board" and dev.clock_mhz == 150 and dev.cal("tiled.dsp_budget_fraction") == 0.5
    assert dev.constants["calibration.tiled.dsp_budget_fraction"]["source"] == "my lab"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["resources"].pop("dsp"), "resources.dsp"),
    (lambda d: d["resources"]["dsp"].update(unit="blocks"), "unit must be 'count'"),
    (lambda d: d["dram"]["peak_bandwidth"].update(unit="Gb/s"), "GB/s"),
    (lambda d: d["energy"]["static_power"].update(value=-1), "non-negative"),
    (lambda d: d["resources"]["lut"].pop("source"), "source"),
    (lambda d: d["resources"]["lut"].update(confidence="sure"), "confidence"),
    (lambda d: d.update(colour="red"), "unknown key 'colour'"),
    (lambda d: d["dram"]["efficiency"].update(value=7), "fraction"),
    (lambda d: d.update(calibration={"tiled": {"dsp_budget": {"value": 1, "unit": "fraction", "source": "x y",
                                                              "confidence": "M"}}}), "dsp_budget_fraction"),
    # counts are whole numbers (a DSP count of 2.5 was read as 2), in the vendor's block RAM unit
    (lambda d: d["resources"]["dsp"].update(value=2.5), "resources.dsp: expected a whole number, got 2.5"),
    (lambda d: d["resources"]["lut"].update(value=100.5), "resources.lut: expected a whole number"),
    (lambda d: d["memory"]["bram_block_bits"].update(value=18432.5), "bram_block_bits: expected a whole number"),
    (lambda d: d["dsp"]["fixed_mults_per_dsp"].update(value=1.5), "fixed_mults_per_dsp: expected a whole number"),
    (lambda d: d["resources"]["bram"].update(unit="M20K"), "a xilinx device counts its block RAM (bram) in BRAM18"),
])
def test_bad_device_file_is_one_line_error(tmp_path, mutate, message):
    with pytest.raises(ConfigError) as err:
        load_device(_write(tmp_path, mutate))
    text = str(err.value)
    assert "\n" not in text and message in text and "mine.yaml" in text


def test_malformed_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="malformed YAML"):
        load_device(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_device(tmp_path / "missing.yaml")


def test_cli_lists_devices(cli):
    result = cli("list", "devices")
    assert result.code == 0
    for name in REQUIRED:
        assert name in result.out


def _doc_table(heading: str):
    """The rows (lists of cells) of the first table under ``## heading`` in docs/devices.md."""
    text = (DEVICE_DIR.parents[2] / "docs" / "devices.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")][2:]
    return [[cell.strip().strip("`") for cell in line.strip("|").split("|")] for line in lines]


@pytest.mark.parametrize("name", shipped_device_names())
def test_docs_tables_list_every_shipped_device_as_its_file_says(name):
    """docs/devices.md had no Arty A7-100T (xc7a100t) row in its shipped-devices and DSP-model tables."""
    dev = load_device(name)
    data = yaml.safe_load((DEVICE_DIR / f"{name}.yaml").read_text())
    rows = {row[0]: row for row in _doc_table("Shipped devices")}
    assert name in rows, f"docs/devices.md 'Shipped devices' has no row for {name}"
    assert rows[name][1:] == [data["board"], dev.part, ", ".join(dev.aliases)]
    families = [row[0] for row in _doc_table("DSP models")]
    assert any(re.search(rf"\b{name}\b", family) for family in families), families
