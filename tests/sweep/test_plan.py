"""Spec checking and planning: which points exist, which models they share, stable keys."""
from __future__ import annotations

import pytest

from codesign.errors import ConfigError
from codesign.sweep import load_spec, shipped_specs
from codesign.sweep.plan import make_plan
from codesign.sweep.spec import grid_points
from codesign.target import DATAFLOW_ONLY


def plan_of(data, tmp_path):
    return make_plan(load_spec(data), tmp_path)


def test_hardware_axes_never_add_models(sim_spec, tmp_path):
    sim_spec["grid"].update(device=["xc7z020", "xcu250"], template=["dataflow", "tiled"])
    plan = plan_of(sim_spec, tmp_path)
    assert len(plan.points) == 2 * 2 * (2 + 1) * 2          # density x device x (dataflow x reuse + tiled) x precision
    assert len(plan.models) == 2                            # one model per density
    assert len({p.point_id for p in plan.points}) == len(plan.points)


def test_tiled_points_take_no_dataflow_only_axis(sim_spec, tmp_path):
    """The tiled template reads no reuse factor, strategy, I/O type or sparse kernel: each of its designs is
    one point (those axes blank), not one per value of axes it ignores."""
    sim_spec["grid"].update(template=["dataflow", "tiled"], strategy=["Latency", "Resource"],
                            io_type=["io_parallel", "io_stream"], sparse_kernel=["off", "auto"])
    spec = load_spec(sim_spec)
    plan = make_plan(spec, tmp_path)
    tiled = [p for p in plan.points if p.axes["template"] == "tiled"]
    dataflow = [p for p in plan.points if p.axes["template"] == "dataflow"]
    assert len(tiled) == 2 * 2                               # density x precision
    assert all(p.axes[a] is None for p in tiled for a in DATAFLOW_ONLY)
    assert len(dataflow) == 2 * 2 * 2 * 2 * 2 * 2            # density x reuse x precision x strategy x io x kernel
    assert grid_points(spec) == len(plan.points)             # the size check counts what runs


def test_a_random_search_draws_each_tiled_design_once(sim_spec, tmp_path):
    sim_spec["grid"].update(template=["dataflow", "tiled"], reuse_factor={"low": 1, "high": 64, "log": True})
    sim_spec["search"] = {"kind": "random", "samples": 30, "seed": 1}
    plan = plan_of(sim_spec, tmp_path)
    keys = [tuple(str(p.axes[a]) for a in sorted(p.axes)) for p in plan.points]
    assert len(keys) == len(set(keys)) == 30 and sum(p.axes["template"] == "tiled" for p in plan.points) == 4


@pytest.mark.parametrize("axis, values", [("reuse_factor", [1, 16]), ("strategy", ["Resource"]),
                                          ("io_type", ["io_stream"]), ("sparse_kernel", ["off", "on"])])
def test_a_dataflow_only_axis_on_a_tiled_only_sweep_is_refused(sim_spec, axis, values):
    sim_spec["grid"].update(template=["tiled"], **{axis: values})
    if axis != "reuse_factor":
        del sim_spec["grid"]["reuse_factor"]
    with pytest.raises(ConfigError) as err:
        load_spec(sim_spec)
    text = str(err.value)
    assert f"grid.{axis} applies to the dataflow template only" in text and "add dataflow to grid.template" in text
    assert "\n" not in text


def test_methods_without_a_density_appear_once(sim_spec, tmp_path):
    sim_spec["grid"]["method"] = ["dense", {"name": "magnitude", "params": {"structure": "structured"}}]
    sim_spec["grid"]["density"] = [1.0, 0.5, 0.25]
    plan = plan_of(sim_spec, tmp_path)
    assert sorted((m.method, m.density or 0) for m in plan.models.values()) == [
        ("dense", 0), ("magnitude", 0.25), ("magnitude", 0.5), ("magnitude", 1.0)]


@pytest.mark.parametrize("method, given", [
    (None, "grid.method is not given, so it is dense"), (["dense"], "grid.method (dense) has none"),
    (["cgap"], "grid.method (cgap) has none")])
def test_a_density_axis_without_a_method_that_prunes_is_refused(finetune_spec, method, given):
    """Every density would make the same model: the axis vanished from the results (3 densities, 1 model)."""
    finetune_spec["train"] = {"mode": "scratch"}
    if method is None:
        del finetune_spec["grid"]["method"]
    else:
        finetune_spec["grid"]["method"] = method
    with pytest.raises(ConfigError) as err:
        load_spec(finetune_spec)
    assert f"grid.density needs a method that prunes to a density, and {given}" in str(err.value)
    assert "set grid.method: [{name: magnitude" in str(err.value) and "\n" not in str(err.value)


def test_a_recipes_pruning_method_is_named_when_the_grid_leaves_method_out(finetune_spec):
    finetune_spec.update(recipe="lenet300_100_magnitude_mnist", overrides={})
    del finetune_spec["grid"]["method"]
    with pytest.raises(ConfigError, match="the recipe's method 'magnitude' is not a sweep's: list it in grid.method"):
        load_spec(finetune_spec)


def test_the_density_axis_sets_each_methods_own_knob(finetune_spec, tmp_path):
    finetune_spec["train"] = {"mode": "scratch"}
    finetune_spec["grid"]["method"] = ["magnitude", "rigl", "nest", "cgap"]
    finetune_spec["grid"]["density"] = [0.5, 0.25]
    plan = plan_of(finetune_spec, tmp_path)
    seen = sorted((m.method, m.density or 0, m.params.get("density", m.params.get("target_density")))
                  for m in plan.models.values())
    assert seen == [("cgap", 0, None), ("magnitude", 0.25, 0.25), ("magnitude", 0.5, 0.5), ("nest", 0.25, 0.25),
                    ("nest", 0.5, 0.5), ("rigl", 0.25, 0.25), ("rigl", 0.5, 0.5)]
    assert all("target_density" not in m.params for m in plan.models.values() if m.method == "rigl")
    finetune_spec["train"]["density_param"] = "target_density"     # an explicit knob: rigl has none of that name
    assert sorted(m.method for m in plan_of(finetune_spec, tmp_path).models.values()).count("rigl") == 1


def test_finetune_shares_one_dense_run_and_keys_follow_training_settings(finetune_spec, tmp_path):
    first = plan_of(finetune_spec, tmp_path)
    assert len(first.bases) == 1 and len(first.models) == 3
    assert all(m.base_key in first.bases for m in first.models.values())
    again = plan_of(finetune_spec, tmp_path)
    assert [p.point_id for p in again.points] == [p.point_id for p in first.points]
    finetune_spec["train"]["finetune_epochs"] = 2           # models change, the shared dense run does not
    changed = plan_of(finetune_spec, tmp_path)
    assert set(changed.models).isdisjoint(first.models) and set(changed.bases) == set(first.bases)


def test_log_range_grid(sim_spec, tmp_path):
    sim_spec["grid"]["density"] = {"low": 0.01, "high": 1.0, "num": 3, "log": True}
    plan = plan_of(sim_spec, tmp_path)
    assert sorted(m.density for m in plan.models.values()) == [0.01, 0.1, 1.0]


def test_random_search_is_seeded_and_distinct(sim_spec, tmp_path):
    sim_spec["grid"].update(density={"low": 0.05, "high": 1.0, "log": True}, reuse_factor=[1, 2, 4, 8, 16])
    sim_spec["search"] = {"kind": "random", "samples": 6, "seed": 3}
    a, b = plan_of(sim_spec, tmp_path), plan_of(sim_spec, tmp_path)
    assert len(a.points) == 6 and len({p.point_id for p in a.points}) == 6
    assert [p.point_id for p in a.points] == [p.point_id for p in b.points]
    assert all(0.05 <= m.density <= 1.0 for m in a.models.values())
    sim_spec["search"]["seed"] = 4
    assert [p.point_id for p in plan_of(sim_spec, tmp_path).points] != [p.point_id for p in a.points]


def test_random_search_of_a_small_grid_is_the_grid(sim_spec, tmp_path):
    sim_spec["search"] = {"kind": "random", "samples": 100}
    assert len(plan_of(sim_spec, tmp_path).points) == 8


def test_a_bad_override_is_the_specs_not_the_recipes():
    """A typo in a spec's overrides is named there (it was reported as the recipe file's)."""
    spec = {"name": "x", "recipe": "jet_mlp_synthetic", "overrides": {"data.tset_limit": 5},
            "grid": {"method": ["dense"]}, "train": {"mode": "none"}}
    with pytest.raises(ConfigError) as err:
        load_spec(spec)
    assert "overrides: unknown key 'data.tset_limit'" in str(err.value) and ".yaml" not in str(err.value)


@pytest.mark.parametrize("change, message", [
    ({"grid": {"devise": ["xc7z020"]}}, "unknown key 'grid.devise' (did you mean: device?)"),
    ({"grid": {"device": ["pynq-z3"]}}, "grid.device: unknown device 'pynq-z3'"),
    ({"grid": {"model": ["lenet6"]}}, "grid.model: unknown model 'lenet6'"),
    ({"grid": {"precision": ["fixed16"]}}, "grid.precision: precision 'fixed16' not understood"),
    ({"grid": {"method": ["magnitud"]}}, "grid.method: unknown method 'magnitud'"),
    ({"grid": {"method": [{"name": "magnitude", "params": {"structur": "x"}}]}}, "unknown key 'structur'"),
    ({"grid": {"density": [0.5, 1.5]}}, "densities are fractions in (0, 1], got 1.5"),
    ({"grid": {"template": ["systolic"]}}, "grid.template.0: Input should be 'dataflow' or 'tiled'"),
    ({"train": {"mode": "finetune"}}, "train.mode 'finetune' trains models and needs 'recipe'"),
    ({"grid": {"method": ["cgap"]}}, "method 'cgap' needs training"),
    ({"search": {"kind": "random"}}, "search.kind 'random' needs search.samples"),
    ({"grid": {"density": {"low": 0.1, "high": 1.0}}}, "a range in a grid search needs 'num'"),
    # an axis given empty: it ran 0 points (density) or fell back to the default silently (device, ...)
    ({"grid": {"density": []}}, "grid.density is empty; give at least one value, or leave the axis out"),
    ({"grid": {"device": []}}, "grid.device is empty"),
    ({"grid": {"reuse_factor": []}}, "grid.reuse_factor is empty"),
    # a range written the wrong way round: its own problem, not "Input should be a valid list [and 1 more ...]"
    ({"grid": {"reuse_factor": {"low": 64, "high": 1, "num": 4}}}, "grid.reuse_factor: high (1.0) must be >= low"),
    ({"grid": {"density": {"low": 0.5}}}, "grid.density.high: Field required"),
])
def test_bad_specs_are_one_line_errors(sim_spec, change, message):
    for section, values in change.items():
        sim_spec[section] = {**sim_spec.get(section, {}), **values}
    with pytest.raises(ConfigError) as err:
        load_spec(sim_spec)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["lenet5_density", "resnet110_density", "jet_mlp_reuse", "lenet5_precision"])
def test_shipped_specs_are_valid(name, tmp_path):
    assert name in shipped_specs()
    plan = make_plan(load_spec(name), tmp_path)
    expected_models = {"lenet5_density": 20, "resnet110_density": 10, "jet_mlp_reuse": 4, "lenet5_precision": 3}[name]
    assert len(plan.models) == expected_models
    assert len(plan.bases) == (0 if name in ("resnet110_density", "lenet5_precision") else 1)
    if name == "lenet5_precision":
        assert len(plan.emulations) == 3 * 4                  # one per model and precision
    if name.startswith("lenet5"):       # HLS refuses LeNet-5's conv2 under Latency: the front needs Resource
        assert "Resource" in load_spec(name).grid.strategy


def test_a_recipe_trained_for_its_device_is_refused(finetune_spec):
    """A sweep trains each point to its density and folds it per hardware point: a recipe's target.fit (one
    budget) would silently make the density axis meaningless."""
    load_spec(finetune_spec)
    fitted = {**finetune_spec, "overrides": {**finetune_spec["overrides"], "target.fit": True,
                                             "target.max_latency_us": 100.0}}
    with pytest.raises(ConfigError, match="target.fit"):
        load_spec(fitted)


@pytest.mark.parametrize("mode, key, value, reader", [
    ("none", "finetune_epochs", 3, "'finetune'"), ("none", "base_epochs", 2, "'finetune'"),
    ("scratch", "seed", 4, "'none'"), ("scratch", "finetune_lr", 0.01, "'finetune'")])
def test_a_key_only_another_training_mode_reads_is_refused(finetune_spec, mode, key, value, reader):
    """Such a key changed nothing: e.g. finetune_epochs under mode none was accepted and ignored."""
    finetune_spec["train"] = {"mode": mode, key: value}
    with pytest.raises(ConfigError, match=f"train.{key} has no effect with train.mode '{mode}' "
                                          f"\\(only train.mode {reader} reads it\\)"):
        load_spec(finetune_spec)


def test_a_spec_written_out_in_full_stays_valid(finetune_spec):
    """Every key at its default (a saved spec, or a library caller's model_dump) is not 'given'."""
    spec = load_spec(finetune_spec)
    full = spec.model_dump(mode="json")
    full["train"]["mode"] = "scratch"
    assert load_spec({**finetune_spec, "train": full["train"] | {"base_epochs": 5}}).train.mode == "scratch"


def test_a_grid_strategy_takes_any_case(sim_spec):
    """strategy: [latency] as train --strategy and a recipe's target take it (it was refused)."""
    sim_spec["grid"]["strategy"] = ["latency", "RESOURCE"]
    assert load_spec(sim_spec).grid.strategy == ["Latency", "Resource"]


def test_a_points_identity_holds_its_device_files_content(sim_spec, tmp_path):
    """A point priced on a device file is another point once the file holds other numbers (its journaled row
    is never taken for it); a shipped device's point keeps the key it always had (old sweeps resume)."""
    import yaml

    from codesign.sim.device import _package_dir
    from codesign.sweep.plan import HARDWARE_AXES, content_key

    data = yaml.safe_load((_package_dir() / "xc7z020.yaml").read_text())
    data.update(name="mine", aliases=[])
    device = tmp_path / "mine.yaml"
    device.write_text(yaml.safe_dump(data))
    sim_spec["grid"]["device"] = ["xc7z020", str(device)]
    before = plan_of(sim_spec, tmp_path)
    data["resources"]["lut"]["value"] = 2 * data["resources"]["lut"]["value"]
    device.write_text(yaml.safe_dump(data))
    after = plan_of(sim_spec, tmp_path)
    moved = {(p.axes["device"], p.point_id) for p in before.points} ^ {(p.axes["device"], p.point_id) for p in after.points}
    assert {d for d, _ in moved} == {str(device)} and len(moved) == len(before.points)   # each file point, twice
    for p in before.points:
        if p.axes["device"] == "xc7z020":
            hardware = {a: p.axes[a] for a in HARDWARE_AXES}
            assert p.point_id == content_key({"model": p.model_key, "method": p.axes["method"], **hardware,
                                              "csim": None}, 16)


def test_dataflow_points_on_an_intel_device_are_refused(sim_spec, tmp_path):
    """R11: a sweep priced hls4ml dataflow designs on Arria 10 as plain fitting rows, which train --fit and export
    refuse (hls4ml's Vitis and Vivado backends build AMD/Xilinx parts only). Refused when the spec is loaded, as
    train --fit refuses it; the tiled template prices any device."""
    sim_spec["grid"].update(device=["arria10", "xc7z020"], template=["dataflow", "tiled"])
    with pytest.raises(ConfigError) as err:
        load_spec(sim_spec)
    assert "grid.device arria10 (10AX115N2F40E2LG, intel) with the dataflow template (grid.template)" in str(err.value)
    assert "grid.template: [tiled]" in str(err.value) and "\n" not in str(err.value)
    sim_spec["grid"].pop("template")                          # the default template is dataflow too
    with pytest.raises(ConfigError, match="with the dataflow template"):
        load_spec(sim_spec)
    sim_spec["grid"].update(template=["tiled"])
    sim_spec["grid"].pop("reuse_factor")
    assert {p.axes["device"] for p in plan_of(sim_spec, tmp_path).points} == {"arria10", "xc7z020"}
