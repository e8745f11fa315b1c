"""What a run records of a device: a shipped name as it is, a device file by its content (identity, what
changed)."""
from pathlib import Path

import yaml

from codesign.sim import load_device
from codesign.sim.device_record import changes, digest, identity, is_file, label, recorded

DEVICE_DIR = Path(__file__).resolve().parents[2] / "codesign" / "sim" / "devices"


def device_file(tmp_path, name="mine.yaml", **resources):
    data = yaml.safe_load((DEVICE_DIR / "xc7z020.yaml").read_text())
    data["name"] = "mine"
    for key, value in resources.items():
        data["resources"][key]["value"] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_a_shipped_name_is_recorded_as_it_is():
    assert recorded("xc7z020") == "xc7z020" and not is_file("pynq-z2")
    assert identity("pynq-z2") == identity("xc7z020") != identity("xcu250")


def test_a_device_file_is_recorded_by_its_content_which_loads_anywhere(tmp_path):
    path = device_file(tmp_path, dsp=40)
    content = recorded(str(path))
    assert isinstance(content, dict) and content["resources"]["dsp"]["value"] == 40
    path.unlink()                                        # the record needs no file
    assert load_device(content).dsp == 40 and is_file(content)
    assert label(content) == "mine (as recorded by the run)"


def test_identity_is_the_content_not_the_path(tmp_path):
    a = device_file(tmp_path, "a.yaml", dsp=40)
    b = device_file(tmp_path, "b.yaml", dsp=40)
    c = device_file(tmp_path, "c.yaml", dsp=400)
    assert identity(str(a)) == identity(str(b)) == identity(recorded(str(a)))
    assert identity(str(a)) != identity(str(c))
    assert digest(load_device(str(a))) == digest(recorded(str(a)))


def test_notes_on_sources_are_not_another_device(tmp_path):
    a = device_file(tmp_path, "a.yaml")
    data = yaml.safe_load(a.read_text())
    data["resources"]["dsp"]["source"] = "counted again by hand"
    data["description"] = "my board"
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(data))
    assert identity(str(a)) == identity(str(tmp_path / "b.yaml"))


def test_changes_name_what_differs(tmp_path):
    old = recorded(str(device_file(tmp_path, "a.yaml", dsp=40, lut=20000)))
    new = recorded(str(device_file(tmp_path, "b.yaml", dsp=400, lut=20000)))
    assert changes(old, new) == "resources.dsp 40 → 400 count"
    assert changes(old, old) == ""
