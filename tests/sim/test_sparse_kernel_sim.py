"""The dataflow template's model of the sparse dense kernel (multipliers, storage, choice)."""
from __future__ import annotations

import math

import torch

from codesign.sim import DesignPoint, estimate, evaluate_batch
from codesign.sim.layers import Network
from codesign.zoo import create_model


def pruned_lenet(density):
    model = create_model("lenet300_100").eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for layer in (m for m in model.modules() if isinstance(m, torch.nn.Linear)):
            layer.weight.mul_((torch.rand(layer.weight.shape, generator=g) < density).float())
    return model


def rows(report):
    return {r["name"]: r for r in report.layer_rows()}


def nonzeros(model):
    return [int((m.weight != 0).sum()) for m in model.modules() if isinstance(m, torch.nn.Linear)]


def test_sparse_kernel_needs_nonzeros_over_rf_multipliers_in_the_resource_strategy():
    model = pruned_lenet(0.1)
    dense = estimate(model, "xc7z020", reuse_factor=16, strategy="Resource", precision="fixed<16,6>",
                     sparse_kernel="off")
    sparse = estimate(model, "xc7z020", reuse_factor=16, strategy="Resource", precision="fixed<16,6>",
                      sparse_kernel="on")
    for name, nnz in zip(("fc1", "fc2", "fc3"), nonzeros(model)):
        row = rows(sparse)[name]["detail"]
        assert {k: row.get(k) for k in ("reuse_factor", "multipliers", "kernel", "strategy")} == {
            "reuse_factor": 16, "multipliers": max(1, math.ceil(nnz / 16)), "kernel": "sparse", "strategy": "Resource"}
    assert sparse.totals["dsp"] < 0.15 * dense.totals["dsp"]
    assert rows(sparse)["fc1"]["bram"] > 0 and rows(sparse)["fc2"]["bram"] == 0     # ROM form vs unrolled form
    assert rows(sparse)["fc1"]["bram"] < 0.3 * rows(dense)["fc1"]["bram"]
    assert any("sparse kernel" in note for note in sparse.to_dict()["notes"])


def test_auto_is_the_default_and_follows_the_export_choice():
    model = pruned_lenet(0.1)
    default = estimate(model, "xc7z020", reuse_factor=28, strategy="Resource")
    off = estimate(model, "xc7z020", reuse_factor=28, strategy="Resource", sparse_kernel="off")
    auto = estimate(model, "xc7z020", reuse_factor=28, strategy="Resource", sparse_kernel="auto")
    assert default.totals == auto.totals != off.totals                    # the export's default is auto too
    kernels = {n: r["detail"].get("kernel", "dense") for n, r in rows(auto).items() if n.startswith("fc")}
    # fc1 (784 x 300, 23,520 nonzeros): the ROM form's 840 multipliers with 784-way input multiplexers price
    # just below the dense kernel's 8,400 (56.7 vs 59.7 PYNQ-Z2s, summed over DSP/LUT/FF/BRAM): sparse_choice
    assert kernels == {"fc1": "sparse", "fc2": "sparse", "fc3": "sparse"}
    forced = {s: estimate(model, "xc7z020", reuse_factor=28, strategy="Resource", sparse_kernel=s) for s in ("on", "off")}
    share = {k: sum(r.totals[res] / getattr(r.device, res) for res in ("dsp", "lut", "ff", "bram"))
             for k, r in {"auto": auto, **forced}.items()}
    assert share["auto"] <= min(share["on"], share["off"])


def test_design_points_carry_the_sparse_kernel():
    from codesign.sim.torch_layers import network_from_model

    net = network_from_model(pruned_lenet(0.05), (1, 28, 28), name="lenet")
    assert isinstance(net, Network)
    points = [DesignPoint("lenet", "xc7z020", reuse_factor=8, strategy="Resource", sparse_kernel=s)
              for s in ("off", "on")]
    off, on = evaluate_batch(points, {"lenet": net})
    assert on["sparse_kernel"] == "on" and on["dsp"] < off["dsp"]


def test_simulate_cli_option(cli, tmp_path):
    r = cli("simulate", "--model", "lenet300_100", "--device", "xc7z020", "--sparse-kernel", "on", "--no-plot",
            "--out", tmp_path / "sim")
    assert r.code == 0, r.err
    r = cli("simulate", "--model", "lenet300_100", "--device", "xc7z020", "--sparse-kernel", "sometimes")
    assert r.code == 2 and "sparse kernel mode" in r.err
