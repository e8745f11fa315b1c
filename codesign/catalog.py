"""The zoo's catalog, shipped with the package: each model's parameter count, description and the
simulator's layer list at its default width and input shape.

``codesign list models`` and ``codesign simulate --model NAME`` read it instead of building the
model, so they answer without importing torch (seconds of start-up on a busy machine). The catalog
is keyed by a digest of the code it was made from (:data:`SOURCES`): after any change there the key
no longer matches, nothing is read from it, and the slow path (build and trace the model) gives
the same answer; ``tests/test_catalog.py`` fails until it is regenerated with::

    python -m codesign.catalog
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

PACKAGE = Path(__file__).resolve().parent
PATH = PACKAGE / "assets" / "zoo_catalog.json"
#: the code whose output the catalog holds (folders: every .py file in them)
SOURCES = ("zoo", "sim/layers.py", "sim/torch_layers.py", "naming.py", "catalog.py")


def source_key() -> str:
    digest = hashlib.sha1()
    for source in SOURCES:
        path = PACKAGE / source
        for file in sorted(path.glob("*.py")) if path.is_dir() else [path]:
            digest.update(file.relative_to(PACKAGE).as_posix().encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


@lru_cache(maxsize=1)
def load() -> Optional[Dict[str, Any]]:
    """The catalog's models by name, or None when it is missing, unreadable or made from other code."""
    try:
        data = json.loads(PATH.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != source_key():
        return None
    return data.get("models")


def entry(name: str) -> Optional[Dict[str, Any]]:
    models = load()
    return models.get(name) if models else None


def cached_network(name: str, width: float = 1.0, in_shape: Optional[Sequence[int]] = None,
                   num_classes: Optional[int] = None):
    """The zoo model's :class:`~codesign.sim.layers.Network` at its defaults, from the catalog; None when the
    catalog cannot answer (another width, shape or class count, an unknown name, a stale catalog)."""
    found = entry(name)
    if found is None or width != 1.0:
        return None
    if in_shape is not None and list(in_shape) != found["in_shape"]:
        return None
    if num_classes is not None and num_classes != found["num_classes"]:
        return None
    from .sim.layers import Layer, Network

    net = found["network"]
    layers = tuple(Layer(**{k: tuple(v) if isinstance(v, list) else v for k, v in layer.items()})
                   for layer in net["layers"])
    return Network(net["name"], layers, tuple(net["input_shape"]), net["source"], dict(net["meta"]))


def build() -> Dict[str, Any]:
    """The catalog of the current code (imports torch and builds every zoo model)."""
    import inspect

    import torch

    from .sim.torch_layers import network_from_model
    from .zoo import MODELS, create_model

    models = {}
    for name in MODELS.names():
        params = inspect.signature(MODELS.get(name)).parameters
        in_shape, classes = list(params["in_shape"].default), int(params["num_classes"].default)
        torch.manual_seed(0)
        model = create_model(name, in_shape=in_shape, num_classes=classes)
        net = network_from_model(model, in_shape, source=f"zoo:{name}")
        doc = (MODELS.get(name).__doc__ or "").strip()
        models[name] = {
            "params": sum(p.numel() for p in model.parameters()), "doc": doc.splitlines()[0] if doc else "",
            "in_shape": in_shape, "num_classes": classes,
            "network": {"name": net.name, "input_shape": list(net.input_shape), "source": net.source,
                        "meta": dict(net.meta), "layers": [dataclasses.asdict(layer) for layer in net.layers]},
        }
    return {"key": source_key(), "models": models}


def main() -> None:  # pragma: no cover  (python -m codesign.catalog)
    from . import atomic

    atomic.write_text(PATH, json.dumps(build(), separators=(",", ":")) + "\n")
    load.cache_clear()
    print(f"wrote {PATH} ({PATH.stat().st_size:,} bytes, key {source_key()})")


if __name__ == "__main__":  # pragma: no cover
    main()
