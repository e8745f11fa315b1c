"""Reports: files written atomically, JSON content, Markdown sections, the roofline plot, the API."""
import json

import pytest

import codesign
from codesign.sim import Mapping, estimate, write_report


def test_public_api_names():
    assert codesign.estimate is estimate
    assert codesign.load_device("pynq-z2").name == "xc7z020"


def test_write_report_files(tmp_path, nets):
    report = estimate(nets.chain_cnn(), "xczu9eg", template="tiled")
    paths = write_report(report, tmp_path / "sim")
    assert set(paths) == {"json", "markdown", "roofline"}
    data = json.loads(paths["json"].read_text())
    assert data["format"] == "codesign.sim/1" and data["template"]["template"] == "tiled"
    assert len(data["layers"]) == len(report.network) and data["totals"]["latency_s"] > 0
    assert {"dram", "onchip", "compute", "static", "total"} <= set(data["layers"][0]["energy_j"])
    assert data["constants"]["dram.energy"]["unit"] == "pJ/bit"
    md = paths["markdown"].read_text()
    for section in ("## Totals", "## Energy per inference", "## Resources", "## Layers", "## Device constants used"):
        assert section in md
    png = paths["roofline"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert not list((tmp_path / "sim").glob(".*.tmp"))


def test_dataflow_report_states_zero_handling_and_fit(nets):
    net = nets.chain_cnn(zeros=0.5)
    lat = estimate(net, "pynq-z2", Mapping(strategy="Latency"))
    res = estimate(net, "pynq-z2", Mapping(strategy="Resource", reuse_factor=4))
    assert any("zeros remove multipliers" in n for n in lat.to_dict()["notes"])
    assert any("zeros save nothing" in n for n in res.to_dict()["notes"])
    over = {k[:-len("_util")] for k, v in lat.totals.items() if k.endswith("_util") and v > 1}
    assert lat.totals["dram_read_bytes"] == 0 and "dsp" in over            # unrolled: more multipliers than DSPs
    assert set(lat.totals["over"]) == over and lat.totals["fits"] is (not over)
    assert all(r["bound"] in ("compute", "-") for r in lat.layer_rows())


def test_does_not_fit_is_reported():
    t = estimate("lenet5", "pynq-z2").totals              # fully unrolled LeNet-5: 430k multipliers
    assert not t["fits"] and "dsp" in t["over"] and t["dsp_util"] > 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_estimate_accepts_files(tmp_path):
    import torch

    from codesign.checkpoint import save_model
    from codesign.zoo import create_model

    model = create_model("jet_mlp", in_shape=(16,), num_classes=5)
    save_model(tmp_path / "model.pt", model, source="test")
    a = estimate(tmp_path / "model.pt", "xcku115")
    torch.onnx.export(model.eval(), (torch.zeros(1, 16),), str(tmp_path / "m.onnx"), dynamo=False)
    b = estimate(tmp_path / "m.onnx", "xcku115")
    c = estimate("jet_mlp", "xcku115")
    # the zoo's shapes alone: hls4ml's multiplier count; the weight values (checkpoint, ONNX) also show the
    # constants HLS builds from a shift and an adder (the ONNX holds BatchNorm folded in float32: a few differ)
    assert c.totals["dsp"] == 4256 and abs(a.totals["dsp"] - b.totals["dsp"]) <= 0.005 * 4256
    assert 0.5 * 4256 < a.totals["dsp"] < 4256
    assert a.network.source.startswith("checkpoint:") and b.network.source.startswith("onnx:")


def test_bad_options_are_one_line_errors(nets):
    from codesign.errors import ConfigError

    for bad in (dict(template="systolic"), dict(strategy="fast"), dict(reuse_factor=0), dict(io_type="axi"),
                dict(unroll="1,2"), dict(dram_layout="tiled"), dict(clock_mhz=-5)):
        with pytest.raises(ConfigError) as err:
            estimate(nets.chain_cnn(), "pynq-z2", **bad)
        assert "\n" not in str(err.value)


def test_readable_counts_and_compact_layer_lists():
    from codesign.sim.markdown import compact_names, count

    assert count(9999) == "9,999" and count(194363.4597) == "194 k" and count(1722416) == "1.72 M"
    names = ["conv1"] + [f"layers.{s}.{b}.conv{c}" for s in range(3) for b in range(12) for c in (1, 2)]
    text = compact_names(names)
    assert text.startswith("73 layers: conv1, ") and "layers.*.*.conv* x72" in text and len(text) < 120
    assert compact_names(["a", "b"]) == "a, b"


def test_markdown_has_the_design_verdict_and_dense_comparison(nets):
    from codesign.sim import Mapping, load_device
    from codesign.sim.fitted import fitted_estimate

    dense = nets.chain_cnn((4, 8), size=16, name="dense")
    pruned = nets.chain_cnn((4, 8), size=16, zeros=0.5, name="pruned")
    report, folding = fitted_estimate(pruned, load_device("pynq-z2"), Mapping(), dense=dense)
    md = report.to_markdown()
    assert folding is not None and "## Design" in md and "fits the device" in md
    assert "## Compared with the dense model (dense)" in md and "| DSP |" in md
    assert report.to_dict()["roofline"]["device_peak_gops"] > 0


def test_ways_out_without_a_command_line_show_their_options(nets):
    # an export writes its report before its command line is known: the ways out carry their option changes
    from codesign.sim import Mapping, estimate

    report = estimate(nets.chain_cnn((4, 8), size=16), "pynq-z2", Mapping()).with_sections(ways_out=[
        {"way": "8-bit weights", "changes": {"--precision": "ap_fixed<8,3>"}, "interval_s": 1e-3, "latency_s": 2e-3,
         "utilisation": {"lut": 0.5}}])
    md = report.to_markdown()
    assert "## Ways out" in md and "`--precision ap_fixed<8,3>`" in md


def test_report_rows_carry_the_hls4ml_layer_name_the_export_uses():
    """simulate names a PyTorch model's layers by module path ('body.0', '0'); the export's report by the
    hls4ml layer ('body_0', 'l_0'): each row carries the latter, so the two reports join."""
    import torch.nn as nn

    from codesign.sim import estimate
    from codesign.sim.torch_layers import network_from_model

    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4))
    net = network_from_model(model, (16,))
    rows = estimate(net, "xc7z020").layer_rows()
    assert [(r["name"], r["hls_name"]) for r in rows if r["op"] == "dense"] == [("1", "l_1"), ("3", "l_3")]
