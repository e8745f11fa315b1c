"""Simulator validity: published results reproduced with the same settings, and the error of each.

1. hls4ml synthesis result (dataflow template): the hls4ml tutorial's pruned SVHN CNN on an Alveo U250.
2. Tiled accelerator (tiled template): Zhang et al. FPGA'15, AlexNet convolutions on a VC707.
3. CGaP (tiled template): ResNet-110 with CGaP-like structured pruning vs the paper's -40.2% latency and
   -11.8% DRAM energy. CGaP's network and accelerator settings are not public, so two pruned structures
   (inner channels kept 36%; uniform width 0.6) x two DRAM layouts (packed; channel-aligned words) x
   two hardware choices (the accelerator designed for the baseline; one re-designed per model) are shown.

    python benchmarks/sim_validation.py
"""
from __future__ import annotations

import torch

from codesign.flops import model_cost
from codesign.sim import Mapping, estimate, load_device, network_from_model, references
from codesign.sim.energy import energy
from codesign.sim.tiled import tiled_costs
from codesign.sim.tiled_search import search_design
from codesign.zoo import create_model

from common import save


def svhn() -> dict:
    cfg, pub = references.SVHN_SETTINGS, references.SVHN_PUBLISHED
    t = estimate(references.svhn_cnn(), cfg["device"], Mapping(io_type=cfg["io_type"], clock_mhz=cfg["clock_mhz"],
                                                                 precision=cfg["precision"])).totals
    rows = {k: {"published": pub[k], "simulated": t[k], "error": t[k] / pub[k] - 1} for k in pub}
    return {"source": references.SVHN_SOURCE, "settings": cfg, "rows": rows}


def zhang() -> dict:
    cfg, pub = references.ZHANG_SETTINGS, references.ZHANG_PUBLISHED
    net = references.alexnet_conv()
    t = estimate(net, cfg["device"], template="tiled", precision=cfg["precision"], unroll=cfg["unroll"],
                 clock_mhz=cfg["clock_mhz"]).totals
    sim = {"gflops": 2 * net.macs / t["latency_s"] / 1e9, "latency_s": t["latency_s"], "dsp": t["dsp"]}
    rows = {k: {"published": pub[k], "simulated": sim[k], "error": sim[k] / pub[k] - 1} for k in pub}
    return {"source": references.ZHANG_SOURCE, "settings": cfg, "rows": rows, "bram_blocks": t["bram"]}


def _dram_latency(net, device, m, design):
    costs = tiled_costs(net, device, m, design)
    return costs.latency_s, energy(costs, device, m.precision).totals()["dram"]


def cgap() -> dict:
    device = load_device(references.CGAP_SETTINGS["device"])
    base_model = create_model("resnet110", in_shape=(3, 32, 32))
    base, base_cost = network_from_model(base_model), model_cost(base_model, (3, 32, 32))
    variants = {"inner channels kept 36%": references.cgap_like_resnet110(0.36),
                "uniform width 0.6": create_model("resnet110", width=0.6, in_shape=(3, 32, 32))}
    rows = []
    for name, model in variants.items():
        net, cost = network_from_model(model), model_cost(model, (3, 32, 32))
        for layout in ("aligned", "packed"):
            m = Mapping(template="tiled", precision=references.CGAP_SETTINGS["precision"], dram_layout=layout)
            b_lat, b_dram = _dram_latency(base, device, m, search_design(base, device, m))
            for hardware in ("same accelerator", "re-designed"):
                design = search_design(base if hardware == "same accelerator" else net, device, m)
                lat, dram = _dram_latency(net, device, m, design)
                rows.append({"structure": name, "dram_layout": layout, "hardware": hardware,
                             "params": 1 - cost.params / base_cost.params,
                             "flops": 1 - cost.flops_dense / base_cost.flops_dense,
                             "latency": 1 - lat / b_lat, "dram_energy": 1 - dram / b_dram,
                             "baseline_latency_s": b_lat, "baseline_dram_j": b_dram})
    return {"source": references.CGAP_SOURCE, "published": references.CGAP_PUBLISHED,
            "settings": references.CGAP_SETTINGS, "rows": rows}


def main() -> None:
    torch.set_num_threads(1)
    results = {"svhn_hls4ml": svhn(), "zhang_fpga15": zhang(), "cgap_resnet110": cgap()}
    for name in ("svhn_hls4ml", "zhang_fpga15"):
        print(name)
        for k, r in results[name]["rows"].items():
            print(f"  {k:16s} published {r['published']:>12.5g}  simulated {r['simulated']:>12.5g}  "
                  f"error {100 * r['error']:+.1f}%")
    pub = results["cgap_resnet110"]["published"]
    print(f"cgap_resnet110 (paper: params -{100 * pub['params']:.1f}%, FLOPs -{100 * pub['flops']:.1f}%, "
          f"latency -{100 * pub['latency']:.1f}%, DRAM energy -{100 * pub['dram_energy']:.1f}%)")
    for r in results["cgap_resnet110"]["rows"]:
        print(f"  {r['structure']:24s} {r['dram_layout']:8s} {r['hardware']:17s} params -{100 * r['params']:.1f}% "
              f"FLOPs -{100 * r['flops']:.1f}% latency -{100 * r['latency']:.1f}% "
              f"DRAM energy -{100 * r['dram_energy']:.1f}%")
    print(f"saved {save('sim_validation', {'command': 'python benchmarks/sim_validation.py', **results})}")


if __name__ == "__main__":
    main()
