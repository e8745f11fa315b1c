import pytest
import torch

from codesign.config import load_recipe
from codesign.data import load_dataset
from codesign.methods import build_method
from codesign.methods.nest import active_connections, dead_units
from codesign.methods.nest_growth import fc_bridge, grow_connections, grow_neurons, growth_pass
from codesign.train import fit, method_context
from codesign.units.engine import UnitEngine
from codesign.zoo import create_model

TINY = [("lenet300_100", 0.1, [1, 28, 28]), ("lenet5", 0.25, [1, 28, 28]), ("resnet20", 0.25, [3, 12, 12])]
IDS = [t[0] for t in TINY]
FAST = {"growth_samples": 64, "prune_rounds": 2, "target_density": 0.04}


def recipe(name, width, shape, params, epochs=4, n_train=96):
    return load_recipe(None, {"model.name": name, "model.width": width, "data.name": "synthetic",
                              "data.options": {"in_shape": shape, "n_train": n_train, "n_test": 16},
                              "train.epochs": epochs, "train.batch_size": 48, "method.name": "nest",
                              "method.params": params})


def context(name, width, shape, params, with_method=False):
    """The method context on a freshly seeded model, as fit() builds it before the first epoch."""
    torch.manual_seed(0)
    cfg = recipe(name, width, shape, params)
    splits = load_dataset("synthetic", in_shape=shape, n_train=96, n_test=16)
    method = build_method("nest", params)
    ctx = method_context(cfg, method, create_model(name, width=width, in_shape=shape), splits)
    return (ctx, method) if with_method else ctx


def masks_of(units):
    return {n: units.masks.connection_mask(n) for n in units.weight_names()}


@pytest.mark.parametrize("name,width,shape", TINY, ids=IDS)
def test_connection_growth_activates_only_the_dormant_connections_with_the_largest_gradient(name, width, shape):
    ctx = context(name, width, shape, FAST)
    units = ctx.units
    grads = growth_pass(ctx, 64, {}, salt=1).grads
    before = masks_of(units)
    weights = {n: units.param(n).detach().clone() for n in before}
    grown = grow_connections(units, grads, ratio=0.25, step=0.5)
    after = masks_of(units)
    assert grown == sum(-(-int((~m).sum()) // 4) for m in before.values()) > 0
    for n, old in before.items():
        new = after[n] & ~old
        assert bool((old & ~after[n]).sum() == 0)                    # nothing active was switched off
        assert int(new.sum()) == -(-int((~old).sum()) // 4)          # the α fraction of the dormant ones
        if new.any():                                                 # ... with the largest |gradient|
            passed_over = ~old & ~after[n]
            if passed_over.any():
                assert grads[n].abs()[new].min() >= grads[n].abs()[passed_over].max()
        w = units.param(n).detach()
        torch.testing.assert_close(w[new], -0.5 * grads[n][new])     # one gradient step
        assert torch.equal(w[old], weights[n][old])                  # active weights untouched


def test_growth_gradient_is_the_gradient_of_each_dormant_connection():
    ctx = context("lenet300_100", 0.1, [1, 28, 28], FAST)
    grads = growth_pass(ctx, 96, {}, salt=1).grads
    units = ctx.units
    name = "fc2.weight"
    dormant = (~units.masks.connection_mask(name)).nonzero()[0].tolist()
    x, y = ctx.train_data
    w = units.param(name)
    with torch.no_grad():
        w[tuple(dormant)] = 1e-3                                       # activate it by hand
    with torch.no_grad():
        probe = torch.nn.functional.cross_entropy(ctx.model.eval()(x), y)
    with torch.no_grad():
        w[tuple(dormant)] = 0.0
        base = torch.nn.functional.cross_entropy(ctx.model(x), y)
    assert float((probe - base) / 1e-3) == pytest.approx(float(grads[name][tuple(dormant)]), rel=0.05, abs=1e-5)


@pytest.mark.parametrize("name,width,shape", TINY[:2], ids=IDS[:2])
def test_neuron_growth_adds_two_connection_neurons_whose_path_opposes_the_gradient(name, width, shape):
    params = {**FAST, "neuron_pairs": 0.02, "unit_growth": 0.5}
    ctx = context(name, width, shape, params)
    units = ctx.units
    bridges = {g.name: b for g in units.groups() if (b := fc_bridge(units, g)) is not None}
    assert bridges                                                   # every hidden FC layer qualifies
    grad_pass = growth_pass(ctx, 64, bridges, salt=1)
    sizes = units.sizes()
    added = grow_neurons(units, bridges, grad_pass, 0.02, 0.5, step=0.1)
    assert added > 0
    for gname, (producer, consumer) in bridges.items():
        G = grad_pass.bridges[gname]
        k = min(-(-G.numel() * 2 // 100), -(-sizes[gname] // 2))
        assert units.size(gname) == sizes[gname] + k                 # tensors really grew
        w_in, w_out = units.param(f"{producer}.weight").detach(), units.param(f"{consumer}.weight").detach()
        m_in = units.masks.connection_mask(f"{producer}.weight")
        m_out = units.masks.connection_mask(f"{consumer}.weight")
        top = set(torch.topk(G.abs().flatten(), k).indices.tolist())
        for j in range(sizes[gname], sizes[gname] + k):
            (n,), (m,) = m_in[j].nonzero()[:, 0].tolist(), m_out[:, j].nonzero()[:, 0].tolist()
            assert m * G.shape[1] + n in top                          # a top pair (m, n)
            mean_x = grad_pass.input_means[gname][n]
            assert w_in[j, n] * mean_x >= 0                           # active on the typical input
            assert torch.sign(w_out[m, j] * w_in[j, n]) == -torch.sign(G[m, n])   # the path lowers the loss
            assert float((w_in[j, n] * w_out[m, j]).abs()) == pytest.approx(0.1 * float(G[m, n].abs()), rel=1e-4)


def test_neuron_growth_signal_is_the_gradient_of_a_direct_connection():
    ctx = context("lenet300_100", 0.1, [1, 28, 28], FAST)
    units = ctx.units
    bridges = {"fc2": fc_bridge(units, units.group("fc2"))}
    G = growth_pass(ctx, 96, bridges, salt=1).bridges["fc2"]           # fc3 outputs × fc1 activations
    x, y = ctx.train_data
    model = ctx.model.eval()
    h1 = model.relu1(model.fc1(model.flatten(x)))
    skip = torch.zeros(G.shape, requires_grad=True)
    logits = model.fc3(model.relu2(model.fc2(h1))) + h1 @ skip.T
    torch.nn.functional.cross_entropy(logits, y).backward()
    torch.testing.assert_close(G, skip.grad, rtol=1e-4, atol=1e-7)


def test_birth_strength_sets_new_neurons_to_alpha_times_the_layers_mean_magnitude():
    ctx = context("lenet300_100", 0.1, [1, 28, 28], FAST)
    units = ctx.units
    bridges = {"fc2": fc_bridge(units, units.group("fc2"))}
    grad_pass = growth_pass(ctx, 64, bridges, salt=1)
    mean = {}
    for name in ("fc1.weight", "fc2.weight", "fc3.weight"):
        w, live = units.param(name).detach(), units.masks.connection_mask(name)
        mean[name] = float(w[live & (w != 0)].abs().mean())
    old = units.size("fc2")
    added = grow_neurons(units, bridges, grad_pass, 0.02, 0.5, step=0.1, birth_strength=0.5)
    new = slice(old, old + added)
    w_in = units.param("fc2.weight").detach()[new]
    w_out = units.param("fc3.weight").detach()[:, new]
    fan_in, fan_out = w_in[w_in != 0].abs(), w_out[w_out != 0].abs()
    assert len(fan_in) == len(fan_out) == added > 1
    assert float(fan_in.mean()) == pytest.approx(0.5 * mean["fc2.weight"], rel=1e-5)
    assert float(fan_out.mean()) == pytest.approx(0.5 * mean["fc3.weight"], rel=1e-5)
    G = grad_pass.bridges["fc2"]                                      # relative sizes are sqrt(|G|)'s
    top = torch.topk(G.abs().flatten(), added).values.sqrt()
    assert sorted((fan_in / fan_in.max()).tolist()) == pytest.approx(sorted((top / top.max()).tolist()), rel=1e-4)


@pytest.mark.parametrize("name,width,shape", TINY, ids=IDS)
def test_nest_grows_then_prunes_to_the_target_density_without_dead_units(name, width, shape):
    record = []
    method = build_method("nest", FAST)
    setup, end = method.setup, method.on_epoch_end

    def on_setup(ctx):
        setup(ctx)
        record.append(("seed", ctx.units.sizes(), active_connections(ctx.units)))

    def on_epoch_end(ctx):
        changed = end(ctx)
        record.append((method.phase, ctx.units.sizes(), active_connections(ctx.units)))
        return changed

    method.setup, method.on_epoch_end = on_setup, on_epoch_end
    res = fit(recipe(name, width, shape, FAST, epochs=4, n_train=64), None, method=method)
    units = UnitEngine(res.model, shape)
    full = create_model(name, width=width, in_shape=shape)
    reference = sum(full.get_parameter(n).numel() for n in units.weight_names())
    assert method.reference_weights == reference
    (_, seed, seed_active), (phase, grown, grown_active) = record[0], record[1]
    assert phase == "grow" and grown_active > seed_active                       # connections grew
    assert all(grown[k] >= seed[k] for k in seed) and sum(grown.values()) > sum(seed.values())  # units grew
    assert record[-1][0] == "finetune"
    target = 0.04 * reference
    nonzero = sum(int(torch.count_nonzero(res.model.get_parameter(n))) for n in units.weight_names())
    assert 0.8 * target <= nonzero <= target + 1                     # target density reached
    assert res.summary["method_grown_connections"] > 0 and res.summary["method_pruned_connections"] > 0
    kind = "method_grown_neurons" if name == "lenet300_100" else "method_grown_maps"
    assert res.summary[kind] > 0
    units.masks.load_state_dict({"connections": {n: res.model.get_parameter(n) != 0 for n in units.weight_names()}})
    assert all(not dead_units(units, g).any() for g in units.groups())


@pytest.mark.parametrize("name,width,shape", TINY, ids=IDS)
def test_units_without_outgoing_or_incoming_connections_are_removed_physically(name, width, shape):
    ctx, method = context(name, width, shape, FAST, with_method=True)
    units = ctx.units
    g = units.groups()[-1]
    sizes = units.sizes()
    consumer = [a for a in units.axes(g) if a.role == "consumer"][0]
    mask = units.masks.connection_mask(consumer.name)
    mask.narrow(consumer.dim, consumer.offset, 2 * consumer.factor).fill_(False)   # units 0, 1: no outputs
    units.set_connections(consumer.name, mask)
    x = torch.randn(4, *shape)
    with torch.no_grad():
        before = ctx.model.eval()(x)
    removed = method.remove_dead_units(units)
    assert removed >= 2 and units.size(g) == sizes[g.name] - 2
    with torch.no_grad():
        torch.testing.assert_close(ctx.model.eval()(x), before)         # nothing read them


def test_schedule_grows_first_then_spreads_pruning_rounds_and_leaves_fine_tuning():
    method = build_method("nest", {"prune_rounds": 4})
    assert method.growth_epochs(30) == 10 and method.prune_epochs(30) == [13, 17, 21, 25]
    assert build_method("nest", {"prune_rounds": 2, "growth_epochs": 2}).prune_epochs(6) == [2, 4]
    assert method.growth_epochs(1) == 0 and method.prune_epochs(1) == [0, 0, 0, 0]



@pytest.mark.parametrize("crash_epoch", [1, 3])
def test_crash_then_resume_is_bit_identical(crash_resume, tmp_path, crash_epoch):
    cfg = recipe("lenet5", 0.25, [1, 28, 28], FAST, epochs=5, n_train=64)
    reference, resumed = crash_resume(cfg, tmp_path, epoch=crash_epoch, step=1)
    assert resumed.summary["train_flops_sparse"] == reference.summary["train_flops_sparse"]


def test_pruning_ranks_bn_folded_magnitudes():
    from codesign.methods.nest import effective_magnitudes, norm_after

    torch.manual_seed(0)
    model = create_model("resnet20", width=0.25, in_shape=[3, 12, 12])
    units = UnitEngine(model, [3, 12, 12])
    norms = norm_after(model)
    assert norms["conv1"] == "bn1" and "fc" not in norms
    conv = next(n for n in norms if n != "conv1")
    bn = model.get_submodule(norms[conv])
    with torch.no_grad():
        bn.weight.uniform_(-2, 2)
        bn.running_var.uniform_(0.5, 3)
    folded = effective_magnitudes(units, norms)
    w = model.get_submodule(conv).weight.detach()
    scale = bn.weight.detach().abs() / torch.sqrt(bn.running_var + bn.eps)
    torch.testing.assert_close(folded[f"{conv}.weight"], w.abs() * scale.view(-1, 1, 1, 1))
    torch.testing.assert_close(folded["fc.weight"], model.fc.weight.detach().abs())


def test_finetune_epochs_ends_the_rounds_that_many_epochs_before_the_end():
    method = build_method("nest", {"growth_epochs": 10, "prune_rounds": 4, "finetune_epochs": 20})
    assert method.prune_epochs(60) == [17, 24, 31, 39]              # 0-based; epochs 41..60 fine-tune
    default = build_method("nest", {"growth_epochs": 10, "prune_rounds": 4})
    assert default.prune_epochs(60) == [19, 29, 39, 49]


def test_feature_maps_tried_against_a_budget_take_their_layers_magnitudes():
    """The hardware-terms growth of a budget's projection (``extend_like_feature_maps``): new maps' active
    connections get magnitudes spread over their layer's own active ones, so the projection's magnitude
    pruning weighs them as the layer's other units (placeholder 1s outranked every trained weight)."""
    from codesign.methods.nest_growth import extend_like_feature_maps

    ctx, method = context("lenet5", 0.5, [1, 28, 28], FAST, with_method=True)
    units = ctx.units
    before = {n: units.param(n).detach()[units.masks.connection_mask(n)].abs() for n in units.weight_names()}
    sizes = units.sizes()
    extend_like_feature_maps(units, ["conv1", "conv2"], 0.25)
    for group, consumer in (("conv1", "conv2.weight"), ("conv2", "fc1.weight")):
        first, added = sizes[group], units.size(group) - sizes[group]
        assert added > 0
        for axis in units.axes(units.group(group)):
            if axis.attr != "weight" or axis.role == "follower":
                continue
            view = units.unit_view(axis, first, added)
            live = view[units.masks.connection_mask(axis.name).narrow(axis.dim, axis.offset + first * axis.factor,
                                                                       added * axis.factor)].abs()
            peers = before[axis.name]
            assert live.numel() > 0 and float(live.max()) <= float(peers.max())
            assert float(live.median()) == pytest.approx(float(peers.median()), rel=0.25)
        assert axis.name == consumer or any(a.name == consumer for a in units.axes(units.group(group)))


def test_growth_is_admitted_by_the_weight_magnitude_its_projection_keeps():
    """A step's projection is judged by the sum of active weight magnitudes it keeps against not growing
    (``_admits_against``), not by its count of connections: a projection one connection short that keeps
    more magnitude is admitted, one with every connection but less magnitude is not, nor one missing the
    budget."""
    from types import SimpleNamespace

    from codesign.methods.budget import twin_engine

    ctx, method = context("lenet300_100", 0.1, [1, 28, 28], FAST, with_method=True)
    base = ctx.units
    accept = method._admits_against(base)
    met, missed = SimpleNamespace(met=True), SimpleNamespace(met=False)

    fewer = twin_engine(base, (1, 28, 28))
    mask = fewer.masks.connection_mask("fc1.weight")
    mask[tuple(mask.nonzero()[0])] = False
    fewer.set_connections("fc1.weight", mask)
    with torch.no_grad():
        fewer.param("fc2.weight").mul_(2.0)
    assert active_connections(fewer) == active_connections(base) - 1
    assert accept(fewer, met) and not accept(fewer, missed)

    weaker = twin_engine(base, (1, 28, 28))
    with torch.no_grad():
        weaker.param("fc2.weight").mul_(0.5)
    assert active_connections(weaker) == active_connections(base) and not accept(weaker, met)
