"""The simulator's section of the fpga export report: device by part, project settings, report files."""
from __future__ import annotations

import json
import re

import pytest
import torch

from codesign.export.hls import HlsSettings, build_hls
from codesign.export.report import FpgaContext, assemble_fpga_report
from codesign.sim import Mapping, estimate, load_device, load_network
from codesign.sim.device import device_for_part
from codesign.sim.export_section import estimate_section, fitting_hint, plan_precision
from codesign.zoo import create_model


@pytest.mark.parametrize("part,device", [
    ("xc7z020clg400-1", "xc7z020"),            # the board's own part
    ("xc7z020clg484-2", "xc7z020"),            # same die, other package / grade
    ("xcvu13p-flga2577-2-e", "xcu250"),        # hls4ml's default part: the U250's die
    ("xcvu9p-flga2104-2L-e", "xcu200"),
])
def test_device_for_part(part, device):
    found, how = device_for_part(part)
    assert found is not None and found.name == device and part in how


def test_unknown_part_has_no_device():
    found, how = device_for_part("xc7a35tcpg236-1")
    assert found is None and "no shipped device" in how


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    torch.manual_seed(0)
    model = create_model("jet_mlp").eval()
    settings = HlsSettings(part="xc7z020clg400-1", clock_period=10.0, reuse_factor=4)
    out = tmp_path_factory.mktemp("export")
    return model, out, build_hls(model, out / "hls", settings=settings, precision="fixed<10,4,RND_CONV,SAT>")


def test_section_estimates_the_project_as_configured(project):
    model, out, hls = project
    section = estimate_section(FpgaContext(model, out, hls, None, {}))
    assert section["device"] == "xc7z020" and section["precision"].startswith("widest of the export plan: 10-bit")
    expected = estimate(model, load_device("xc7z020"), reuse_factor=4, clock_mhz=100.0, precision="10/10",
                        io_type=hls.settings.io_type)
    assert section["latency_cycles"] == int(expected.totals["latency_cycles"])
    assert section["dsp"] == round(expected.totals["dsp"])
    assert section["latency_us"] == pytest.approx(expected.totals["latency_s"] * 1e6)
    written = json.loads((out / "sim" / "report.json").read_text())
    assert written["device"]["name"] == "xc7z020" and (out / "sim" / "roofline.png").exists()


def test_section_joins_the_fpga_report_after_the_core_parts(project):
    model, out, hls = project
    report = assemble_fpga_report({"model": {}, "csim": {}}, FpgaContext(model, out, hls, None, {}))
    expected = estimate(model, load_device("xc7z020"), reuse_factor=4, clock_mhz=100.0, precision="10/10",
                        io_type=hls.settings.io_type).totals
    assert list(report)[-1] == "estimate" and report["estimate"]["fits"] is bool(expected["fits"])


def test_plan_precision_takes_the_widest_types(project):
    _, _, hls = project
    p = plan_precision(hls.precision)
    assert (p.weight_bits, p.act_bits) == (10, 10)


def test_hint_names_the_smallest_power_of_two_reuse_factor_that_fits():
    network, device = load_network("lenet300_100"), load_device("xc7z020")
    hint = fitting_hint(network, device, Mapping(precision="8/14"))
    reuse = int(re.search(r"--reuse-factor (\d+)", hint).group(1))

    def fits(rf):
        return estimate(network, device, strategy="Resource", reuse_factor=rf, precision="8/14").totals["fits"]

    assert fits(reuse) and (reuse == 2 or not fits(reuse // 2))


def test_sparse_kernel_setting_reaches_the_estimate(tmp_path):
    torch.manual_seed(0)
    model = create_model("lenet300_100", width=0.1).eval()
    with torch.no_grad():
        for layer in (model.fc1, model.fc2):
            layer.weight.mul_(torch.rand_like(layer.weight) < 0.05)
    settings = HlsSettings(strategy="Resource", reuse_factor=4, sparse_kernel="on")
    hls = build_hls(model, tmp_path / "hls", settings=settings, precision="fixed<16,6,RND_CONV,SAT>")
    section = estimate_section(FpgaContext(model, tmp_path, hls, None, {}))
    options = dict(strategy="Resource", reuse_factor=4, precision="16/16", io_type=hls.settings.io_type)
    sparse = estimate(model, load_device("xcu250"), sparse_kernel="on", **options).totals
    stock = estimate(model, load_device("xcu250"), sparse_kernel="off", **options).totals
    assert (section["dsp"], section["lut"]) == (round(sparse["dsp"]), round(sparse["lut"]))
    assert 0 < sparse["dsp"] < stock["dsp"]
