"""`--hls-config FILE`: an hls4ml configuration drives the export (and round-trips through a project)."""
from __future__ import annotations

import pytest
import torch
import yaml

from codesign.errors import ConfigError
from codesign.export.hls import HlsSettings, build_hls
from codesign.export.hls_config import read_export_config
from codesign.zoo import create_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("jet_mlp").eval()


def _layer(hls_model, name):
    return next(l for l in hls_model.get_layers() if l.name in (name, f"Dense_{name}"))


def test_per_layer_precision_reuse_and_strategy_reach_the_project(model, tmp_path):
    config = {"IOType": "io_parallel", "ClockPeriod": 4, "Part": "xc7z020clg400-1",
              "HLSConfig": {"Model": {"Precision": "fixed<12,5,RND_CONV,SAT>", "ReuseFactor": 2, "Strategy": "Latency"},
                            "LayerName": {"fc2": {"ReuseFactor": 8, "Strategy": "Resource",
                                                  "Precision": {"weight": "fixed<6,1,RND_CONV,SAT>"}},
                                          "fc3_bias": {"Precision": {"result": "auto"}}}}}
    path = tmp_path / "hls4ml_config.yml"
    path.write_text(yaml.safe_dump(config))
    settings, spec = read_export_config(path, {}, None)
    assert (settings.reuse_factor, settings.strategy, settings.io_type, settings.clock_period, settings.part) == \
        (2, "Latency", "io_parallel", 4.0, "xc7z020clg400-1")
    assert settings.layers == {"fc2": {"ReuseFactor": 8, "Strategy": "Resource"}}
    project = build_hls(model, tmp_path / "hls", settings=settings, precision=spec)
    fc1, fc2 = _layer(project.hls_model, "fc1"), _layer(project.hls_model, "fc2")
    assert (fc1.get_attr("reuse_factor"), str(fc1.get_attr("strategy")).lower()) == (2, "latency")
    assert (fc2.get_attr("reuse_factor"), str(fc2.get_attr("strategy")).lower()) == (8, "resource")
    assert fc2.get_weights("weight").type.precision.width == 6 and fc1.get_weights("weight").type.precision.width == 12
    # fc1 runs Latency at RF 2: the project is DATAFLOW (in one pipeline HLS may ignore that reuse factor)
    assert settings.pipeline_style == "auto" and project.hls_model.config.pipeline_style == "dataflow"
    # the command line wins over the file's network-wide values
    settings, spec = read_export_config(path, {"reuse_factor": 4}, "ap_fixed<10,4>")
    assert settings.reuse_factor == 4 and spec.default.weight.width == 10 and "fc2" in spec.overrides


def test_a_files_pipeline_style_is_kept(tmp_path):
    path = tmp_path / "hls4ml_config.yml"
    path.write_text(yaml.safe_dump({"HLSConfig": {"Model": {"ReuseFactor": 4, "PipelineStyle": "pipeline"}}}))
    settings, _ = read_export_config(path, {}, None)
    assert settings.pipeline_style == "pipeline"


def test_a_projects_own_config_rebuilds_the_same_types(model, tmp_path):
    first = build_hls(model, tmp_path / "a", precision="auto")
    settings, spec = read_export_config(tmp_path / "a" / "hls4ml_config.yml", {}, None)
    second = build_hls(model, tmp_path / "b", settings=settings, precision=spec)
    for name in ("fc1", "fc2", "fc3", "fc4"):
        a, b = _layer(first.hls_model, name), _layer(second.hls_model, name)
        for t in ("weight_t", "bias_t"):
            assert str(a.types[t].precision) == str(b.types[t].precision), (name, t)
        assert str(a.get_output_variable().type.precision) == str(b.get_output_variable().type.precision)


@pytest.mark.parametrize("layer, message", [
    ({"fc9": {"ReuseFactor": 2}}, "unknown layer 'fc9'"),
    ({"fc1": {"Precision": {"accum": "fixed<20,8>"}}}, "leaves accumulators to hls4ml's lossless inference"),
    ({"fc1": {"ReuseFactr": 2}}, "unknown key 'ReuseFactr' (did you mean: ReuseFactor?)"),
])
def test_bad_configs_are_one_line_errors(model, tmp_path, layer, message):
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump({"Model": {"ReuseFactor": 1}, "LayerName": layer}))
    with pytest.raises(ConfigError) as err:
        settings, spec = read_export_config(path, {}, None)
        build_hls(model, tmp_path / "hls", settings=settings, precision=spec)
    assert message in str(err.value) and "\n" not in str(err.value)


class _PaddedConvs(torch.nn.Module):
    """Padded convolutions under io_stream (hls4ml inserts zp2d_ layers), a pooled Dense with a fused bias."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2 = torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Conv2d(4, 4, 3, padding=1)
        self.pool, self.fc = torch.nn.MaxPool2d(2), torch.nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        x = self.pool(torch.relu(self.c2(torch.relu(self.c1(x)))))
        return self.fc(x.flatten(1))


@pytest.fixture(scope="module")
def padded_project(tmp_path_factory):
    torch.manual_seed(0)
    model = _PaddedConvs().eval()
    model.codesign_spec = {"in_shape": [1, 8, 8]}
    calibration = torch.randn(64, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    project = build_hls(model, tmp_path_factory.mktemp("padded") / "a", precision="auto", calibration=calibration,
                        settings=HlsSettings(reuse_factor="auto", io_type="io_stream", part="xc7z020clg400-1"))
    return model, calibration, project


def _firmware(path):
    return {f: (path / "firmware" / f).read_text() for f in ("defines.h", "parameters.h", "myproject.cpp")}


def test_the_written_config_is_one_entry_per_layer_that_hls4ml_and_codesign_rebuild(padded_project, tmp_path):
    """R6/R2: hls4ml_config.yml held c1 and hls4ml's Conv2D_c1 (fc's result type only under Dense_fc), and
    OnnxModel named the deleted temporary folder, so hls4ml.converters.convert_from_config failed. Now one entry
    per layer, under the name hls4ml reads (an edit of it reaches hls4ml's layer), and the final paths; given back
    (--hls-config) it still builds the same firmware: types (also of the padding layers, which take their input's),
    reuse factors, strategies, FIFO depths."""
    import hls4ml

    model, calibration, project = padded_project
    config = yaml.safe_load((project.path / "hls4ml_config.yml").read_text())
    layers = config["HLSConfig"]["LayerName"]
    assert {"c1", "c2", "fc"} <= set(layers) and not [n for n in layers if n.startswith(("Conv2D_", "Dense_", "bn_"))]
    dense = next(l for l in project.hls_model.get_layers() if l.name == "Dense_fc")
    assert layers["fc"]["Precision"]["result"] == str(dense.get_output_variable().type.precision).replace(",0>", ">")
    assert config["OnnxModel"] == str(project.path.resolve() / "model_channels_last.onnx")
    assert config["OutputDir"] == str(project.path.resolve())
    settings, spec = read_export_config(project.path / "hls4ml_config.yml", {}, None)
    second = build_hls(model, tmp_path / "b", settings=settings, precision=spec, calibration=calibration)
    assert _firmware(second.path) == _firmware(project.path)
    layers["c1"]["ReuseFactor"] = 2
    config["OutputDir"] = str(tmp_path / "rebuilt")
    rebuilt = hls4ml.converters.convert_from_config(config)
    assert next(l for l in rebuilt.get_layers() if l.name == "Conv2D_c1").get_attr("reuse_factor") == 2


def test_two_names_of_one_layer_that_disagree_are_refused(tmp_path):
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump({"LayerName": {"fc1": {"ReuseFactor": 9}, "Dense_fc1": {"ReuseFactor": 3}}}))
    with pytest.raises(ConfigError, match=r"'Dense_fc1' and 'fc1' are one layer \(fc1\) and set its ReuseFactor to 3 "
                                          r"and 9: keep one of them \(hls4ml reads 'fc1'\)"):
        read_export_config(path, {}, None)
