"""io_stream FIFO depths: written into the project's hls4ml_config.yml (FifoDepth) and rebuilt from it."""
from __future__ import annotations

import re

import pytest
import torch
import yaml

from codesign.errors import ExportError
from codesign.export.fifo import layer_depths
from codesign.export.hls import HlsSettings, build_hls
from codesign.export.hls_config import read_export_config
from tests.user_models import functional_residual


def _pragmas(project):
    return re.findall(r"#pragma HLS STREAM variable=(\w+) depth=(\d+)", (project.path / "firmware" / "myproject.cpp")
                      .read_text())


def _fifo_entries(project):
    layers = yaml.safe_load((project.path / "hls4ml_config.yml").read_text())["HLSConfig"]["LayerName"]
    return {name: entry["FifoDepth"] for name, entry in layers.items() if "FifoDepth" in entry}


@pytest.fixture(scope="module")
def folded(tmp_path_factory):
    """A residual CNN (a cloned stream) built io_stream with the folding's FIFO depths."""
    torch.manual_seed(0)
    model = functional_residual().eval()
    calibration = torch.randn(32, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    project = build_hls(model, tmp_path_factory.mktemp("fifo") / "a", precision="ap_fixed<16,6>",
                        calibration=calibration, settings=HlsSettings(reuse_factor="auto", io_type="io_stream"))
    return model, calibration, project


def test_the_projects_config_rebuilds_its_fifo_depths(folded, tmp_path):
    """The depths the export sets are in its hls4ml_config.yml, and that file given back (--hls-config) builds the
    same FIFOs (it built hls4ml's full-length defaults: 900/784/784 where the project had 6/2/2)."""
    model, calibration, first = folded
    written = _fifo_entries(first)
    assert written == layer_depths(first.fifo["depths"]) and written
    assert any(isinstance(d, list) for d in written.values())          # the cloned stream's copies differ
    settings, spec = read_export_config(first.path / "hls4ml_config.yml", {}, None)
    assert settings.fifo_depths == written
    second = build_hls(model, tmp_path / "b", settings=settings, precision=spec, calibration=calibration)
    assert _pragmas(second) == _pragmas(first) and _fifo_entries(second) == written
    assert second.summary()["fifo_depths_written"]["from"] == "the configuration (FifoDepth)"


def test_a_fifo_depth_for_no_stream_is_one_line(folded, tmp_path):
    model, calibration, first = folded
    written = _fifo_entries(first)
    cloned = next(name for name, d in written.items() if isinstance(d, list))
    for depths, message in (({"nowhere": 4}, "has no stream 'nowhere'"),
                            ({cloned: [2, 2]}, f"2 depths, but the output of '{cloned}' is one stream and")):
        settings = HlsSettings(reuse_factor=1, io_type="io_stream", fifo_depths=depths)
        with pytest.raises(ExportError, match=re.escape(message)):
            build_hls(model, tmp_path / "c", settings=settings, precision="ap_fixed<16,6>", calibration=calibration)


def test_layer_depths_group_a_clones_copies():
    assert layer_depths({"a": 2, "b": 6, "b_cpy1": 40, "b_cpy2": 2, "c": 3, "c_cpy1": 3, "c_cpy2": 3}) == \
        {"a": 2, "b": [6, 40, 2], "c": 3}
