"""The estimate of an export uses that export's plan per layer: the types hls4ml resolved, the zeros of
the quantized weights, the sparse-kernel choice -- so its DSP basis is the export's multiplier count."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from codesign.export.estimate import estimate_export, export_mapping, export_network
from codesign.export.hls import HlsSettings, build_hls
from codesign.export.report import FpgaContext, assemble_fpga_report
from codesign.sim import estimate, load_device
from codesign.sim.plan import resolve_plan
from codesign.zoo import create_model


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """jet_mlp (16-64-32-32-5) with a 10-bit default and a 6-bit override on one layer."""
    torch.manual_seed(0)
    model = create_model("jet_mlp").eval()
    out = tmp_path_factory.mktemp("export")
    spec = out / "p.yaml"
    spec.write_text("default: fixed<10,4,RND_CONV,SAT>\nlayers:\n  fc2: {weight: 'fixed<6,1,RND_CONV,SAT>'}\n")
    settings = HlsSettings(part="xc7z020clg400-1", clock_period=10.0, reuse_factor=4)
    return model, out, build_hls(model, out / "hls", settings=settings, precision=str(spec))


def test_each_layer_keeps_its_own_types(project):
    model, _, hls = project
    network = export_network(hls)
    plan = resolve_plan(network, export_mapping(hls, network))
    compute = [i for i, l in enumerate(network.layers) if l.op == "dense"]
    assert sorted({int(plan.w_bits[i]) for i in compute}) == [6, 10]
    assert all(plan.in_bits[i] == 10 for i in compute)                # results of the plan, not the widest
    assert all(plan.acc_bits[i] > 10 for i in compute)                 # hls4ml's lossless accumulators


def test_dsp_basis_is_the_exports_multiplier_count(project):
    model, out, hls = project
    section = estimate_export(FpgaContext(model, out, hls, None, {}))
    network = export_network(hls)
    report = estimate(network, load_device("xc7z020"), export_mapping(hls, network))
    mults = report.costs.detail["multipliers"]
    wide = {l.name for l, w in zip(network.layers, report.costs.plan.w_bits) if l.op == "dense" and w >= 9}
    exported = {r["layer"]: r["multipliers"] for r in hls.multipliers["layers"]}
    assert sum(int(m) for l, m in zip(network.layers, mults) if l.op == "dense") == hls.multipliers["total"]["multipliers"]
    # DSPs: the wide (>= 9-bit) layers' multipliers, less the constants HLS builds from a shift and an adder
    # (small random weights at 6 fractional bits are mostly 1-2 signed digits)
    from codesign.sim.dataflow_resources import shift_add_share

    share = shift_add_share(network, report.costs.plan)
    expected = sum(m * (1 - s) for l, m, s in zip(network.layers, mults, share) if l.name in wide)
    assert abs(section["dsp"] - expected) <= 1 and section["dsp"] < sum(
        int(m) for l, m in zip(network.layers, mults) if l.name in wide)
    assert len(exported) == 4 and section["device"] == "xc7z020" and (out / "sim" / "report.json").exists()


def test_weights_rounding_to_zero_save_multipliers(tmp_path):
    torch.manual_seed(0)
    model = create_model("jet_mlp").eval()
    with torch.no_grad():
        model.fc1.weight.mul_(1e-3)          # most of these round to zero at 8 bits, 2 integer bits
    hls = build_hls(model, tmp_path / "hls", precision="fixed<8,2,RND_CONV,SAT>")
    network = export_network(hls)
    first = network.layers[0]
    assert first.nonzero_weights < first.weights // 2
    assert first.weights - first.nonzero_weights == hls.multipliers["layers"][0]["zeros"]


def test_section_joins_the_fpga_report_after_the_core_parts(project):
    model, out, hls = project
    report = assemble_fpga_report({"model": {}, "csim": {}}, FpgaContext(model, out, hls, None, {}))
    network = export_network(hls)
    expected = estimate(network, load_device("xc7z020"), export_mapping(hls, network)).totals
    assert list(report)[-1] == "estimate" and report["estimate"]["fits"] is bool(expected["fits"])
    assert report["estimate"]["dsp"] == round(expected["dsp"])


def test_sparse_kernel_choice_reaches_the_estimate(tmp_path):
    torch.manual_seed(0)
    model = create_model("lenet300_100", width=0.1).eval()
    with torch.no_grad():
        for layer in (model.fc1, model.fc2):
            layer.weight.mul_(torch.rand_like(layer.weight) < 0.05)
    settings = HlsSettings(strategy="Resource", reuse_factor=4, sparse_kernel="auto")
    hls = build_hls(model, tmp_path / "hls", settings=settings, precision="fixed<16,6,RND_CONV,SAT>")
    network = export_network(hls)
    plan = resolve_plan(network, export_mapping(hls, network))
    kernels = {r["layer"]: r["kernel"] for r in hls.multipliers["layers"]}
    assert [bool(s) for s, l in zip(plan.sparse, network.layers) if l.op == "dense"] == \
        [kernels[k] == "sparse" for k in ("fc1", "fc2", "fc3")]
    assert plan.sparse.any()
    report = estimate(network, load_device("xcu250"), export_mapping(hls, network))
    mults = [int(m) for m, l in zip(report.costs.detail["multipliers"], network.layers) if l.op == "dense"]
    assert sum(mults) == hls.multipliers["total"]["multipliers"]


def test_planning_like_the_export_gives_the_exports_estimate(tmp_path):
    """simulate --precision auto of a model = the estimate of its export (types, rounded zeros, totals)."""
    from codesign.export.estimate import plan_like_export
    from codesign.export.samples import choose_samples, default_counts, macs_per_sample
    from codesign.export.weights import resolve_model
    from codesign.sim import Mapping

    model, source = resolve_model("lenet300_100", width=0.25)
    counts = default_counts(macs_per_sample(model, (1, 28, 28)))
    samples = choose_samples(model, source.meta, None, n_calibration=counts["calibration"], n_csim=counts["csim"])
    hls = build_hls(model, tmp_path / "hls", calibration=samples.calibration)
    network = export_network(hls)
    exported = estimate(network, "xcu250", export_mapping(hls, network))
    planned = plan_like_export(model, source.meta)
    simulated = estimate(planned.network, "xcu250", Mapping(layers=planned.layers, io_type="io_parallel"))
    assert [l.nonzero_weights for l in planned.network.layers if l.op == "dense"] == \
        [l.nonzero_weights for l in network.layers if l.op == "dense"]
    for field in ("w_bits", "b_bits", "in_bits", "out_bits", "acc_bits"):
        ours = getattr(simulated.costs.plan, field)[[l.op == "dense" for l in planned.network.layers]]
        theirs = getattr(exported.costs.plan, field)[[l.op == "dense" for l in network.layers]]
        assert ours.tolist() == theirs.tolist(), field
    for key in ("dsp", "lut", "ff", "bram", "latency_cycles", "interval_cycles"):
        assert simulated.totals[key] == pytest.approx(exported.totals[key]), key


def test_a_global_average_pool_costs_what_the_torch_path_says(tmp_path):
    """The README walkthrough's head (conv → BN → ReLU → AdaptiveAvgPool2d(1) → Linear): the export builds
    hls4ml's GlobalPooling2D (one accumulator per channel), and its estimate prices the layer as the
    torch path does (before: a 14x14-window AveragePool, 32x the LUTs of the whole network)."""
    from codesign.sim import Mapping, network_from_model

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                                torch.nn.Conv2d(8, 16, 1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                                torch.nn.Flatten(), torch.nn.Linear(16, 10)).eval()
    hls = build_hls(model, tmp_path / "hls", precision="ap_fixed<16,6>", calibration=torch.rand(32, 1, 14, 14))
    layer = next(l for l in hls.hls_model.get_layers() if l.class_name == "GlobalPooling2D")
    assert (layer.get_attr("in_height"), layer.get_attr("in_width"), layer.get_attr("n_filt")) == (14, 14, 16)
    accum = layer.types["accum_t"].precision             # hls4ml's Pooling2D rule: + 2*8 bits, 8 of them integer
    assert (accum.width, accum.integer) == (32, 14)
    mapping = Mapping(io_type="io_stream", precision="ap_fixed<16,6>", reuse_factor=4)
    nets = {"export": export_network(hls), "torch": network_from_model(model, in_shape=(1, 14, 14))}
    pools = {}
    for path, net in nets.items():
        costs = estimate(net, "xc7z020", mapping).costs
        pools[path] = [(l.op, costs.lut[i], costs.ff[i], costs.cycles[i]) for i, l in enumerate(net.layers)
                       if "pool" in l.op]
    assert pools["export"] == pools["torch"] and [p[0] for p in pools["torch"]] == ["globalpool"]


# ----------------------------------------------------------------------------- simulate = export, layer by layer

def _grouped_model():
    """A depthwise convolution (hls4ml's own kernel) and a grouped one (the export writes it block-diagonal)."""
    import torch.nn as nn

    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, padding=1, groups=4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


def _shift_add_model():
    """Weights of two signed digits (2^-a + 2^-b), a little off as float training leaves them: rounded to
    the export's types they are shift-and-add constants, floored (ap_fixed's TRN) most are not."""
    import torch.nn as nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(16 * 7 * 7, 10))
    with torch.no_grad():
        for m in net:
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                a = torch.randint(-4, -1, m.weight.shape).float()
                b = a - torch.randint(1, 4, m.weight.shape).float()
                sign = torch.where(torch.rand(m.weight.shape) < 0.5, -1.0, 1.0)
                m.weight.copy_(sign * (2.0 ** a + 2.0 ** b) * (1 + 1e-4 * torch.randn(m.weight.shape)))
    return net


def _simulated_and_exported(tmp_path, factory, io_type: str, strategy: str, precision: str = "auto",
                            device: str = "xcu250", part: str = None):
    """(simulate's report and folding, the export's estimate and folding) of one model: ``codesign simulate``'s
    library path (the export's plan, then ``--reuse-factor auto``) and ``codesign export``'s (the built
    project's network and mapping with its folding), without HLS; ``part``: the export's, for ``device``."""
    from codesign.export.estimate import plan_like_export
    from codesign.export.fold import with_fifo_depths
    from codesign.export.samples import choose_samples, default_counts, macs_per_sample
    from codesign.export.weights import given_model
    from codesign.sim import Mapping
    from codesign.sim.fitted import fitted_estimate
    from codesign.sim.folding import parse_strategy

    model, source = given_model(factory(), (1, 28, 28))
    meta = source.meta
    device = load_device(device)
    planned = plan_like_export(model, meta, precision=precision)
    simulated, folding = fitted_estimate(planned.network, device, Mapping(io_type=io_type, layers=planned.layers),
                                         "auto", parse_strategy(strategy, "auto"), 0.8)
    counts = default_counts(macs_per_sample(model, (1, 28, 28)))
    samples = choose_samples(model, meta, None, n_calibration=counts["calibration"], n_csim=counts["csim"])
    hls = build_hls(model, tmp_path / "hls", calibration=samples.calibration, precision=precision,
                    settings=HlsSettings(reuse_factor="auto", io_type=io_type, strategy=strategy, part=part))
    network = export_network(hls)
    exported = estimate(network, device, with_fifo_depths(export_mapping(hls, network), hls.fold.folding.fifo_depth))
    return simulated, folding, exported, hls.fold.folding


def _assert_same_design(simulated, folding, exported, exported_folding):
    from codesign.sim.mapping import layer_key

    def knobs(f):
        return {layer_key(n): (r, s) for n, r, s in zip(f.names, f.rf, f.strategy)}

    assert knobs(folding) == knobs(exported_folding)
    ours = {layer_key(l.name): i for i, l in enumerate(simulated.network.layers) if l.op in ("conv", "dense")}
    theirs = {layer_key(l.name): i for i, l in enumerate(exported.network.layers) if l.op in ("conv", "dense")}
    assert ours.keys() == theirs.keys()
    for name, i in ours.items():
        j = theirs[name]
        for what in ("cycles", "interval", "dsp", "lut", "ff"):
            a, b = getattr(simulated.costs, what)[i], getattr(exported.costs, what)[j]
            assert a == pytest.approx(b, rel=1e-6, abs=1e-6), (name, what)
    for key in ("latency_cycles", "interval_cycles", "dsp", "lut", "ff", "bram"):
        assert simulated.totals[key] == pytest.approx(exported.totals[key], rel=1e-6), key


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_simulate_and_export_fold_and_price_grouped_convolutions_alike(tmp_path, io_type):
    """A grouped convolution hls4ml cannot take is exported block-diagonal; simulate prices that layer, so
    both choose the same reuse factor for it (they chose 3 and 9 under io_parallel, 2 and 8 under io_stream,
    before)."""
    _assert_same_design(*_simulated_and_exported(tmp_path, _grouped_model, io_type, "Latency"))


def test_simulate_and_export_count_shift_and_add_constants_alike(tmp_path):
    """Both count the constants HLS builds from shifts and adders in the weights cast to the export's types."""
    simulated, folding, exported, exported_folding = _simulated_and_exported(tmp_path, _shift_add_model,
                                                                             "io_parallel", "auto")
    compute = [l.op in ("conv", "dense") for l in simulated.network.layers]
    assert simulated.costs.plan.w_bits[compute].max() >= 9   # wide enough for DSPs: the shift-and-add count matters
    _assert_same_design(simulated, folding, exported, exported_folding)


def test_the_exports_folding_prices_the_planned_input_type(tmp_path):
    """LeNet-5 (width 0.5, ap_fixed<4,1>, PYNQ-Z2): conv1 reads the input layer's planned 4-bit type. The export's
    folding priced it at hls4ml's default 16 bits, found RF 1 over the LUT share and folded conv1 by 5 (interval
    3,925 cycles), where simulate, and the estimate of the built project, keep RF 1 within it (3,841)."""
    from codesign.zoo import create_model as create

    def lenet5():
        torch.manual_seed(0)
        return create("lenet5", width=0.5)

    simulated, folding, exported, exported_folding = _simulated_and_exported(
        tmp_path, lenet5, "io_stream", "auto", precision="ap_fixed<4,1>", device="pynq-z2", part="xc7z020clg400-1")
    assert int(exported.costs.plan.in_bits[0]) == 4 and exported.totals["interval_cycles"] == 3841
    _assert_same_design(simulated, folding, exported, exported_folding)


def _functional_model():
    from tests.user_models import FunctionalResidual

    torch.manual_seed(0)
    return FunctionalResidual()


def test_simulate_and_export_name_and_price_functional_ops_alike(tmp_path):
    """One naming rule (codesign.naming): simulate finds the export's types of every functional op under its own
    names, so each layer costs the same (before: those layers took 16-bit results, LUTs +17% on a ResNet block)."""
    from codesign.naming import c_identifier

    simulated, folding, exported, exported_folding = _simulated_and_exported(tmp_path, _functional_model,
                                                                             "io_stream", "Latency")
    ours = [c_identifier(l.name) for l in simulated.network.layers]
    assert ours == [l.name for l in exported.network.layers]
    assert {"block_relu", "block_add", "block_relu_2", "relu", "relu_2"} <= set(ours)
    for what in ("out_bits", "in_bits"):
        assert getattr(simulated.costs.plan, what).tolist() == getattr(exported.costs.plan, what).tolist(), what
    for what in ("cycles", "interval", "dsp", "lut", "ff"):
        assert getattr(simulated.costs, what) == pytest.approx(getattr(exported.costs, what), rel=1e-6), what
    _assert_same_design(simulated, folding, exported, exported_folding)


def test_simulate_and_export_build_silu_and_concatenations_of_three_alike(tmp_path):
    """SiLU is a sigmoid and a product in the hls4ml project, and a torch.cat of three two concatenations of two:
    simulate names and prices the same layers (before: one 'act' and one 'concat', the product's multipliers and
    the second concatenation missing)."""
    from codesign.naming import c_identifier
    from tests.user_models import SiluConcat

    def model():
        torch.manual_seed(0)
        return SiluConcat()

    simulated, folding, exported, exported_folding = _simulated_and_exported(tmp_path, model, "io_stream", "Latency")
    ours = [c_identifier(l.name) for l in simulated.network.layers]
    assert ours == [l.name for l in exported.network.layers]
    assert {"act_sigmoid", "act_mul", "sigmoid", "mul", "concat", "concat_2"} <= set(ours)
    _assert_same_design(simulated, folding, exported, exported_folding)


@pytest.mark.parametrize("density, kernel", [(0.25, "dense"), (0.15, "sparse")])
def test_the_export_builds_the_kernel_the_estimate_prices_lower(tmp_path, density, kernel):
    """fc1 (400 x 100, Resource RF 100, PYNQ-Z2): at density 0.25 the sparse kernel's ROM form (250 multipliers
    with 400-way input multiplexers) costs more than the dense kernel, and the export keeps hls4ml's Dense there
    (the earlier rule, RF >= nonzeros per output, took the sparse kernel); at 0.15 it takes the sparse one. The
    project's estimate prices what was built, and equals the estimate of the same settings before the export."""

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(400, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10)).eval()
    with torch.no_grad():
        model[0].weight.mul_((torch.rand(model[0].weight.shape) < density).float())
    settings = HlsSettings(strategy="Resource", reuse_factor=100, part="xc7z020clg400-1", sparse_kernel="auto")
    hls = build_hls(model, tmp_path / "hls", settings=settings, precision="fixed<16,6,RND_CONV,SAT>",
                    calibration=torch.rand(64, 400))
    kernels = [r["kernel"] for r in hls.multipliers["layers"]]
    assert kernels[0] == kernel
    network = export_network(hls)
    built = estimate(network, "xc7z020", export_mapping(hls, network))
    chosen = estimate(network, "xc7z020", export_mapping(hls, network).with_(
        sparse_kernel="auto", layers={k: replace(v, sparse=None) for k, v in export_mapping(hls, network).layers.items()}))
    assert built.totals == chosen.totals
