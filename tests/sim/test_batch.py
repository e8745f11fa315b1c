"""Batch evaluation of design points gives the same totals as single estimates."""
import pytest

from codesign.errors import CodesignError
from codesign.sim import DesignPoint, estimate, evaluate_batch


def test_batch_matches_single_estimates(nets):
    networks = {"a": nets.chain_cnn((4, 8)), "b": nets.chain_cnn((2, 4), zeros=0.5)}
    points = [DesignPoint(model=k, device=d, template=t, reuse_factor=rf, precision=p)
              for k in networks for d in ("pynq-z2", "xcu250") for t in ("dataflow", "tiled")
              for rf in (1, 4) for p in ("ap_fixed<16,6>", "8")]
    rows = evaluate_batch(points, networks)
    assert len(rows) == len(points)
    for point, row in zip(points[::7], rows[::7]):
        single = estimate(networks[point.model], point.device, template=point.template,
                          reuse_factor=point.reuse_factor, precision=point.precision).totals
        assert row["latency_s"] == pytest.approx(single["latency_s"])
        assert row["energy_j"] == pytest.approx(single["energy_j"])
        assert row["dsp"] == single["dsp"] and row["model"] == point.model


def test_batch_errors_raise_or_record(nets):
    networks = {"a": nets.chain_cnn()}
    bad = [DesignPoint(model="a", device="pynq-z2"), DesignPoint(model="a", device="nope"),
           DesignPoint(model="zzz", device="pynq-z2")]
    with pytest.raises(CodesignError):
        evaluate_batch(bad, networks)
    rows = evaluate_batch(bad, networks, errors="record")
    assert "error" not in rows[0] and "unknown device" in rows[1]["error"] and "zzz" in rows[2]["error"]


def test_per_layer_types_by_model(nets):
    """``layers`` gives a model's points per-layer settings (a sweep's: the types the export plans at the point's
    precision), as a Mapping's ``layers`` does for one estimate; the same network with other settings is
    evaluated apart, never taken from the cache of the first."""
    from codesign.sim import Mapping
    from codesign.sim.mapping import LayerSettings

    net = nets.chain_cnn((4, 8))
    layers = {"wide": {"conv0": LayerSettings(weight="ap_fixed<16,6>", result="ap_fixed<24,12>"),
                       "fc": LayerSettings(weight="ap_fixed<18,2>")},
              "narrow": {"conv0": LayerSettings(weight="ap_fixed<4,1>", result="ap_fixed<6,3>")}}
    points = [DesignPoint(model=k, device="xcu250", reuse_factor=rf, precision="8", strategy=s)
              for k in ("wide", "narrow", "plain") for rf in (1, 4) for s in ("Latency", "Resource")]
    rows = evaluate_batch(points, {"wide": net, "narrow": net, "plain": net}, layers=layers)
    for point, row in zip(points, rows):
        mapping = Mapping(reuse_factor=point.reuse_factor, precision="8", strategy=point.strategy,
                          layers=layers.get(point.model, {}))
        single = estimate(net, "xcu250", mapping).totals
        for key in ("dsp", "lut", "ff", "latency_cycles"):
            assert row[key] == pytest.approx(single[key]), (point, key)
    by = {r["model"]: r for r in rows if r["reuse_factor"] == 1 and r["strategy"] == "Latency"}
    assert by["wide"]["lut"] != by["narrow"]["lut"] != by["plain"]["lut"]
