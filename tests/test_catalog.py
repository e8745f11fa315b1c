"""The shipped zoo catalog (codesign.catalog) answers exactly what building and tracing the model would, and
is current: after a change to the zoo or the layer extraction, regenerate it with `python -m codesign.catalog`."""
from __future__ import annotations

import inspect
import json
import subprocess
import sys

import pytest
import torch

from codesign import catalog
from codesign.sim.torch_layers import network_from_model
from codesign.zoo import MODELS, create_model


def test_the_shipped_catalog_is_current():
    data = json.loads(catalog.PATH.read_text())
    assert data["key"] == catalog.source_key(), (
        "codesign/assets/zoo_catalog.json was made from other code (the zoo or the layer extraction changed); "
        "regenerate it with `python -m codesign.catalog`")
    assert sorted(data["models"]) == sorted(MODELS.names())


@pytest.mark.parametrize("name", MODELS.names())
def test_catalog_equals_building_and_tracing(name):
    params = inspect.signature(MODELS.get(name)).parameters
    torch.manual_seed(0)             # as the catalog was built (a random init may hold an exact zero weight)
    model = create_model(name, in_shape=params["in_shape"].default, num_classes=params["num_classes"].default)
    fresh = network_from_model(model, params["in_shape"].default, source=f"zoo:{name}")
    cached = catalog.cached_network(name)
    assert cached == fresh and cached.meta == fresh.meta
    assert catalog.entry(name)["params"] == sum(p.numel() for p in model.parameters())


def test_the_catalog_answers_only_for_the_defaults():
    assert catalog.cached_network("lenet5", width=0.5) is None
    assert catalog.cached_network("lenet5", in_shape=(3, 32, 32)) is None
    assert catalog.cached_network("lenet5", num_classes=100) is None
    assert catalog.cached_network("no_such_model") is None
    assert catalog.cached_network("lenet5", in_shape=(1, 28, 28), num_classes=10) is not None


def test_a_stale_catalog_is_never_read(monkeypatch, tmp_path):
    stale = json.loads(catalog.PATH.read_text())
    stale["key"] = "0" * 20
    path = tmp_path / "zoo_catalog.json"
    path.write_text(json.dumps(stale))
    monkeypatch.setattr(catalog, "PATH", path)
    catalog.load.cache_clear()
    try:
        assert catalog.load() is None and catalog.cached_network("lenet5") is None
    finally:
        catalog.load.cache_clear()


def test_simulate_and_list_need_no_torch(tmp_path):
    """A zoo model at its defaults is simulated (tiled, or dataflow in float: at a fixed-point precision the
    dataflow estimate counts the weights as the export casts them, which builds the model in torch), and
    models/methods/datasets/devices/recipes are listed, without importing torch (seconds of start-up)."""
    code = ("import sys\nfrom codesign.cli import main\n"
            f"assert main(['simulate', '--model', 'lenet5', '--device', 'xc7z020', '--template', 'tiled', "
            f"'--no-plot', '--out', {str(tmp_path / 't')!r}]) == 0\n"
            f"assert main(['simulate', '--model', 'lenet5', '--device', 'xc7z020', '--precision', 'float', "
            f"'--no-plot', '--out', {str(tmp_path / 'd')!r}]) == 0\n"
            "for what in ('models', 'methods', 'datasets', 'devices', 'recipes'):\n"
            "    assert main(['list', what]) == 0\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_list_methods_reads_the_registry_from_the_sources():
    from codesign.cli.list_cmd import _method_rows
    from codesign.methods import METHODS

    assert [row[0] for row in _method_rows()] == sorted(METHODS.names())
