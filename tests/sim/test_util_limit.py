"""``--max-util`` per resource (codesign/sim/util_limit.py)."""
from __future__ import annotations

import pytest

from codesign.errors import ConfigError
from codesign.sim.util_limit import UtilLimit


@pytest.mark.parametrize("given", [0.8, "0.8", {"all": 0.8}, "all=0.8", UtilLimit.of(0.8)])
def test_one_share_reads_as_a_number(given):
    limit = UtilLimit.of(given)
    assert limit.uniform and limit.as_json() == 0.8 and limit.text() == "0.8"
    assert limit.describe() == "80% of each resource"


def test_shares_per_resource_round_trip_and_keep_the_default_for_the_others():
    limit = UtilLimit.of("0.6,DSP=0.25,bram_18k=0.5")
    assert (limit["dsp"], limit["bram"], limit["lut"], limit["ff"], limit["uram"]) == (0.25, 0.5, 0.6, 0.6, 0.6)
    assert limit.as_json() == {"all": 0.6, "DSP": 0.25, "BRAM": 0.5}
    assert UtilLimit.of(limit.as_json()) == limit == UtilLimit.of(limit.text())
    assert UtilLimit.of({"dsp": 0.1})["lut"] == 0.8                     # not named: the default share
    assert limit.describe() == "25% of the DSPs, 50% of the BRAMs, 60% of the others"


def test_load_and_over_read_each_resource_against_its_own_share():
    limit = UtilLimit.of("0.8,dsp=0.1")
    util = {"dsp": 0.2, "lut": 0.4, "ff": 0.1, "bram": 0.0}
    assert limit.load(util) == pytest.approx(2.0)                 # DSP at twice its share binds
    assert limit.over(util) == {"dsp": pytest.approx(2.0)}
    assert UtilLimit.of(0.8).over(util) == {} and UtilLimit.of(0.8).load(util) == pytest.approx(0.5)
    avail = {"dsp": 220, "lut": 53200, "ff": 106400, "bram": 280, "uram": 0}
    assert limit.budget(avail)["dsp"] == pytest.approx(22.0) and limit.budget(avail)["lut"] == pytest.approx(42560.0)


@pytest.mark.parametrize("bad, message", [
    (1.5, "must be in \\(0, 1\\], got 1.5"), (0, "got 0"), ("dsp=0", "of DSP must be in"),
    ("abc", "got abc"), ("0.8,foo=0.2", "unknown resource 'foo'"), ("dsp=0.1,DSP=0.2", "names DSP twice"),
    ("0.8,,dsp=0.1", "an empty entry"), (True, "must be in"), ({"dsp": "x"}, "of DSP must be in"),
    (float("nan"), "must be in")])
def test_bad_limits_are_one_line_errors(bad, message):
    with pytest.raises(ConfigError, match=message) as err:
        UtilLimit.of(bad)
    assert "\n" not in str(err.value)


def test_shares_of_names_the_resources_over_their_share():
    assert UtilLimit.of(0.8).shares_of(["dsp", "lut"]) == "80% of the DSP/LUT"
    assert UtilLimit.of("0.8,dsp=0.25").shares_of(["dsp", "lut"]) == "25% of the DSP / 80% of the LUT"
    assert UtilLimit.of(0.8).shares_of([]) == "80% of the budget"


def test_a_recipe_limit_error_names_the_key_not_the_flag():
    with pytest.raises(ConfigError, match="the limit of DSP must be in") as err:
        UtilLimit.of("dsp=2", flag="the limit")
    assert "--max-util" not in str(err.value)


def test_a_share_of_a_resource_the_device_has_none_of_is_an_error_naming_the_device_and_its_resources():
    from codesign.sim import load_device

    zynq, alveo = load_device("xc7z020"), load_device("xcu250")
    with pytest.raises(ConfigError) as err:
        UtilLimit.of("0.8,URAM=0.5").check_device(zynq)
    assert str(err.value) == ("--max-util gives a share of URAM, but xc7z020 (PYNQ-Z2) has no URAM: it has DSP 220, "
                              "LUT 53,200, FF 106,400, BRAM 280; drop URAM=0.5, or pick a device that has URAM")
    limit = UtilLimit.of("0.8,URAM=0.5")
    assert limit.check_device(alveo) is limit and UtilLimit.of("0.8,DSP=0.25").check_device(zynq)
    assert UtilLimit.of(0.8).check_device(zynq)                     # the share of all: whatever the device has
    named = UtilLimit.of("0.8,URAM=0.8")                            # named, if equal to the others: still said
    assert named.as_json() == {"all": 0.8, "URAM": 0.8} and UtilLimit.of(named.as_json()).named == ("uram",)
    with pytest.raises(ConfigError, match="target.max_util gives a share of URAM"):
        named.check_device(zynq, flag="target.max_util")
