"""Property-based fuzzing of the YAML loaders: recipes (codesign.config + method params), device files
(codesign.sim.device) and sweep specs (codesign.sweep.spec). Whatever the file holds, the loader either
returns a validated object or raises a one-line CodesignError -- never any other exception.

Inputs are random YAML-like trees keyed by the real field names (so validation goes deep), structural
mutations of the shipped files (a leaf or subtree replaced, a key dropped) and byte-level mutations of
their text. The default run is derandomized: about 2,150 cases in a few seconds; CODESIGN_FUZZ_SCALE=N multiplies
every example count by N (e.g. 20 for a long run).
"""
from __future__ import annotations

import copy
import functools
import itertools
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codesign.config import Recipe, load_recipe, shipped_recipes
from codesign.errors import CodesignError
from codesign.methods import build_method
from codesign.sim.device import _package_dir, load_device
from codesign.sweep.spec import load_spec, shipped_specs

SCALE = int(os.environ.get("CODESIGN_FUZZ_SCALE", "1"))
FOLDER = Path(tempfile.mkdtemp(prefix="codesign_fuzz_"))
COUNTER = itertools.count()


def fuzz_settings(examples: int):
    return settings(max_examples=examples * SCALE, derandomize=True, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


def field_names(model) -> list[str]:
    names = set()
    for cls in [model, *[f.annotation for f in model.model_fields.values()]]:
        names.update(getattr(cls, "model_fields", {}))
    return sorted(names)


KEYS = sorted(set(field_names(Recipe)) | {"grid", "train", "search", "csim", "overrides", "recipe", "density",
                                          "device", "reuse_factor", "precision", "value", "unit", "source",
                                          "confidence", "resources", "lut", "dsp", "bram", "clock", "dram",
                                          "energy", "calibration", "aliases", "params", "target_density",
                                          "low", "high", "num", "log", "mode", "kind", "samples"})
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(["lenet5", "jet_mlp", "synthetic", "magnitude", "xc7z020", "tiled",
                                           "ap_fixed<16,6>", "ap_fixed<16", "1e-3", "-1", "0", "nan", "~", "[]"]),
)
keys = st.one_of(st.sampled_from(KEYS), st.text(max_size=8), st.integers(-3, 3), st.booleans())
trees = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(keys, inner, max_size=5)), max_leaves=20)
documents = st.one_of(trees, st.dictionaries(st.sampled_from(KEYS), trees, max_size=6))


MEMORY: dict[str, Any] = {}     # parsed documents served by read_yaml without a YAML round trip


@pytest.fixture
def in_memory(monkeypatch):
    """read_yaml(path) returns MEMORY[path] when present: tree tests skip the (slow, pure-Python) YAML
    parser, which the text-mutation tests exercise."""
    import codesign.config
    import codesign.sim.device
    import codesign.sweep.spec

    def read_yaml(real, path):
        key = str(path)
        return copy.deepcopy(MEMORY[key]) if key in MEMORY else real(path)

    for module in (codesign.config, codesign.sim.device, codesign.sweep.spec):
        monkeypatch.setattr(module, "read_yaml", functools.partial(read_yaml, module.read_yaml))
    yield
    MEMORY.clear()


def remember(tree: Any) -> Path:
    path = FOLDER / f"tree{next(COUNTER)}.yaml"
    MEMORY[str(path)] = tree
    return path


@functools.lru_cache(maxsize=None)
def parsed(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def write(text: str | bytes) -> Path:
    path = FOLDER / f"doc{next(COUNTER)}.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    return path


def only_codesign_errors(load: Callable[[Path], Any], path: Path) -> None:
    try:
        load(path)
    except CodesignError as err:
        assert "\n" not in str(err) and str(err).strip(), repr(str(err))


def load_recipe_and_method(path: Path) -> None:
    recipe = load_recipe(path)
    build_method(recipe.method.name, recipe.method.params)


def load_sweep(path: Path) -> None:
    load_spec(path)


SHIPPED = {
    "recipe": (load_recipe_and_method, sorted(shipped_recipes().values())),
    "device": (load_device, sorted(p for p in _package_dir().glob("*.yaml") if not p.name.startswith("_"))),
    "sweep": (load_sweep, sorted(shipped_specs().values())),
}


def mutate_tree(tree: Any, data: st.DataObject) -> Any:
    """Replace one random node of ``tree`` by a random tree, or drop a key."""
    if not isinstance(tree, (dict, list)) or not tree or data.draw(st.integers(0, 3)) == 0:
        return data.draw(trees)
    index = data.draw(st.integers(0, len(tree) - 1))
    if isinstance(tree, dict):
        key = list(tree)[index]
        out = dict(tree)
        if data.draw(st.booleans()):
            del out[key]
        else:
            out[key] = mutate_tree(tree[key], data)
        return out
    return [mutate_tree(x, data) if i == index else x for i, x in enumerate(tree)]


YAML_BITS = [b":", b"- ", b"{", b"]", b"\n  ", b"\t", b"&a", b"*a", b"!!python"]


def mutate_text(text: str, data: st.DataObject) -> bytes:
    raw = text.encode()
    for _ in range(data.draw(st.integers(1, 4))):
        a = data.draw(st.integers(0, len(raw)))
        b = data.draw(st.integers(a, min(len(raw), a + 40)))
        op = data.draw(st.sampled_from(["delete", "insert", "duplicate", "truncate"]))
        if op == "delete":
            raw = raw[:a] + raw[b:]
        elif op == "insert":
            raw = raw[:a] + data.draw(st.binary(max_size=6) | st.sampled_from(YAML_BITS)) + raw[a:]
        elif op == "duplicate":
            raw = raw[:b] + raw[a:b] + raw[b:]
        else:
            raw = raw[:a]
    return raw


def _random_documents(kind: str):
    @fuzz_settings(250)
    @given(documents)
    def test(in_memory, tree):
        only_codesign_errors(SHIPPED[kind][0], remember(tree))
    return test


def _tree_mutations(kind: str):
    load, files = SHIPPED[kind]

    @fuzz_settings(300)
    @given(st.sampled_from(files), st.data())
    def test(in_memory, path, data):
        only_codesign_errors(load, remember(mutate_tree(copy.deepcopy(parsed(path)), data)))
    return test


def _text_mutations(kind: str):
    load, files = SHIPPED[kind]

    @fuzz_settings(100)
    @given(st.sampled_from(files), st.data())
    def test(path, data):
        only_codesign_errors(load, write(mutate_text(path.read_text(), data)))
    return test


test_recipe_random_documents = _random_documents("recipe")
test_recipe_tree_mutations = _tree_mutations("recipe")
test_recipe_text_mutations = _text_mutations("recipe")
test_device_random_documents = _random_documents("device")
test_device_tree_mutations = _tree_mutations("device")
test_device_text_mutations = _text_mutations("device")
test_sweep_random_documents = _random_documents("sweep")
test_sweep_tree_mutations = _tree_mutations("sweep")
test_sweep_text_mutations = _text_mutations("sweep")


def test_the_shipped_files_load():
    for kind, (load, files) in SHIPPED.items():
        assert files, kind
        for path in files:
            load(path)
    assert not math.isnan(load_recipe(SHIPPED["recipe"][1][0]).optim.lr)


set_keys = st.lists(st.sampled_from(KEYS + ["", " ", "0"]), min_size=1, max_size=3).map(".".join)
set_values = st.one_of(st.text(max_size=15), st.sampled_from(["[1, 2", "{a: 1}", "1e400", "-0", "null", "'x'",
                                                             "[]", "{in_shape: [16]}", "!!binary xx"]))


@fuzz_settings(200)
@given(st.lists(st.tuples(set_keys, set_values).map("=".join) | st.text(max_size=12), min_size=1, max_size=4))
def test_recipe_set_overrides(assignments):
    """`codesign train RECIPE --set KEY=VALUE ...` with random keys and values."""
    from codesign.cli.options import build_overrides

    def load(_path):
        recipe = load_recipe("jet_mlp_synthetic", build_overrides(assignments, {}))
        build_method(recipe.method.name, recipe.method.params)

    only_codesign_errors(load, FOLDER)
