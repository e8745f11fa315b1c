"""One hardware-target vocabulary: every consumer spells the same values the same way, with the same
defaults, and a sweep takes the axes its grid leaves out from the recipe's target."""
import pytest

from codesign import target
from codesign.config import TargetCfg
from codesign.errors import ConfigError
from codesign.export.hls import HlsSettings
from codesign.sim import DesignPoint, Mapping
from codesign.sweep.spec import Grid


def test_defaults_agree_everywhere():
    m, h, p, t = Mapping(), HlsSettings(), DesignPoint("m", "xc7z020"), TargetCfg()
    hardware = Grid().hardware()
    for field, default in (("template", target.DEFAULT_TEMPLATE), ("reuse_factor", target.DEFAULT_REUSE_FACTOR),
                           ("strategy", target.DEFAULT_STRATEGY), ("io_type", target.DEFAULT_IO_TYPE),
                           ("sparse_kernel", target.DEFAULT_SPARSE_KERNEL)):
        values = [getattr(x, field) for x in (m, p, t) if hasattr(x, field) and (x, field) != (t, "strategy")]
        values.append(hardware[field][0])
        if hasattr(h, field):
            values.append(getattr(h, field))
        assert set(values) == {default}, field
    assert target.DEFAULT_SPARSE_KERNEL == "auto"            # the estimate models what the export builds
    # a recipe's target: auto, what export --reuse-factor auto does per layer; one reuse factor: Latency
    assert t.strategy == "auto" and h.checked().strategy == target.DEFAULT_STRATEGY
    assert m.backend == h.backend == target.DEFAULT_BACKEND   # the HLS tool decides where weight ROMs go


@pytest.mark.parametrize("check, given, canonical", [
    (target.strategy, "resource", "Resource"), (target.io_type, "IO_STREAM", "io_stream"),
    (target.template, "Tiled", "tiled"), (target.sparse_kernel, "ON", "on"), (target.backend, "vivado", "Vivado"),
    (target.hls_tool, "VivadoAccelerator", "Vivado"), (target.hls_tool, "VitisAcceleratorIPFlow", "Vitis"),
])
def test_values_are_spelled_once(check, given, canonical):
    assert check(given) == canonical


def test_mapping_and_hls_settings_read_the_same_spellings():
    m = Mapping(backend="vivado", strategy="resource", io_type="IO_STREAM", sparse_kernel="ON")
    h = HlsSettings(backend="vivado", strategy="resource", io_type="IO_STREAM", sparse_kernel="ON").checked()
    assert (m.backend, m.strategy, m.io_type, m.sparse_kernel) == (h.backend, h.strategy, h.io_type, h.sparse_kernel) \
        == ("Vivado", "Resource", "io_stream", "on")


@pytest.mark.parametrize("field, bad, message", [
    ("strategy", "Unrolled", "choose Latency or Resource"), ("io_type", "io_serial", "unknown io_type"),
    ("sparse_kernel", "sometimes", "auto, on, off"),
])
def test_unknown_values_are_the_same_one_line_errors(field, bad, message):
    for make in (lambda: Mapping(**{field: bad}), lambda: HlsSettings(**{field: bad}).checked()):
        with pytest.raises(ConfigError, match=message) as err:
            make()
        assert "\n" not in str(err.value)


def test_sweep_axes_come_from_the_recipes_target():
    grid = Grid(device=["xcu250"])
    axes = grid.hardware({"device": "xc7z020", "strategy": "Resource", "reuse_factor": 8, "sparse_kernel": "off"})
    assert axes["device"] == ["xcu250"]                      # the grid wins
    assert (axes["strategy"], axes["reuse_factor"], axes["sparse_kernel"]) == (["Resource"], [8], ["off"])
    assert axes["precision"] == ["ap_fixed<16,6>"] and axes["template"] == ["dataflow"]


def test_auto_strategy_means_the_same_everywhere():
    """auto: both strategies open to the per-layer folding (train --fit, export/simulate --reuse-factor auto),
    Latency with one reuse factor (a sweep point, export --reuse-factor 4)."""
    from codesign.methods.budget import BudgetSpec
    from codesign.sim.folding import parse_strategy

    assert target.resolve_strategy("AUTO", True) == parse_strategy("auto", "auto") == BudgetSpec("xc7z020").strategies \
        == ("Latency", "Resource")
    assert target.resolve_strategy("auto", False) == parse_strategy("auto", 4) == ("Latency",)
    assert HlsSettings(strategy="auto", reuse_factor=4).checked().strategy == "Latency"
    assert Grid().hardware({"strategy": "auto"})["strategy"] == ["Latency"]
    assert TargetCfg(strategy="Resource").strategy == "Resource"
    for bad in (lambda: target.target_strategy("fast"), lambda: parse_strategy("fast", "auto"),
                lambda: BudgetSpec("xc7z020", strategy="fast")):
        with pytest.raises(ConfigError, match="unknown strategy 'fast'.*auto, Latency or Resource") as err:
            bad()
        assert "\n" not in str(err.value)


def test_a_latency_bound_counts_in_clock_cycles():
    """The user's microseconds, named as typed: 1e308 overflowed to 'inf cycles', 1e-320 us * 1e-6 to '0.0'."""
    assert target.latency_cycles(2.0, 100.0) == 200.0
    assert 0 < target.latency_cycles(1e-320, 100.0) < 1          # below one cycle: valid, and missed
    with pytest.raises(ConfigError, match=r"--max-latency-us 1e\+308 is too large .* at 100 MHz"):
        target.latency_cycles(1e308, 100.0)
    with pytest.raises(ConfigError, match="must be a positive number of microseconds, got -1"):
        target.latency_cycles(-1.0, 100.0)
