"""The project's ``hls4ml_config.yml``: hls4ml's configuration as the project was built, with one entry per layer
and the paths of the finished project, so that both hls4ml (``hls4ml.converters.convert_from_config``) and
``codesign export|simulate --hls-config`` rebuild it from the file.

hls4ml's ONNX passes replace a node by a layer of another name (``c1`` → ``Conv2D_c1``, ``fc`` → ``Dense_fc``,
:data:`codesign.hls_names.HLS_PREFIX`), copying the node's ``LayerName`` entry to the new name; its writer then dumps
both. Two entries for one layer invite an edit of one that hls4ml ignores (it reads the node's name, ``c1``, and
copies it over ``Conv2D_c1``), so the file keeps the node's entry only, holding what the built layer has (the
export sets a Dense layer's result type after conversion, on the renamed entry: :func:`one_entry_per_layer`).

``OnnxModel`` and ``OutputDir`` name the finished project folder (hls4ml wrote them while the project was built in
its temporary folder, which is renamed at the end); hls4ml reads ``OnnxModel`` relative to the current folder, so
both are absolute.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Dict, Iterable

import yaml

from .. import atomic

FILE = "hls4ml_config.yml"
#: the names hls4ml's ONNX passes give the layer they make of node X, exactly as they write them
_RENAMED = re.compile(r"^(?:Conv1D|Conv2D|DepthwiseConv1D|DepthwiseConv2D|PointwiseConv1D|PointwiseConv2D|Dense|bn)_"
                      r"(?P<node>.+)$|^(?P<quant>.+)_act$")


def renamed_from(name: str, entries: Iterable[str]) -> str | None:
    """The entry of the node hls4ml made layer ``name`` of (``Conv2D_c1`` → ``c1``), None where ``name`` is no such
    layer or ``entries`` has no entry for its node."""
    m = _RENAMED.match(name)
    node = (m.group("node") or m.group("quant")) if m else None
    return node if node is not None and node in set(entries) else None


def _merged(own: Any, built: Any) -> Any:
    """A node's entry with what the layer built of it has (its values win; Precision merges type by type)."""
    if not isinstance(own, dict) or not isinstance(built, dict):
        return copy.deepcopy(built)
    out = {**copy.deepcopy(own), **copy.deepcopy(built)}
    if isinstance(own.get("Precision"), dict) and isinstance(built.get("Precision"), dict):
        out["Precision"] = {**own["Precision"], **built["Precision"]}
    return out


def one_entry_per_layer(layers: Dict[str, Any], nodes: Iterable[str]) -> Dict[str, Any]:
    """``LayerName`` with each layer hls4ml made of a node (not itself a node of the graph, ``nodes``) folded into
    the node's entry (see the module doc)."""
    nodes = set(nodes)
    out = {name: copy.deepcopy(entry) for name, entry in layers.items()}
    for name, entry in layers.items():
        node = None if name in nodes else renamed_from(name, layers)
        if node is not None:
            out[node] = _merged(out[node], entry)
            del out[name]
    return out


def write_project_config(hls_model, folder: Path, nodes: Iterable[str]) -> Path:
    """(Re)write ``folder/hls4ml_config.yml`` from ``hls_model``'s configuration, for the project now in ``folder``
    (``nodes``: the names of the ONNX graph's nodes it was converted from). The model's own configuration keeps
    its entries (hls4ml and the estimate read the layers' names there)."""
    folder = Path(folder).resolve()
    config = dict(hls_model.config.config)
    config["OutputDir"] = str(folder)
    config["OnnxModel"] = str(folder / "model_channels_last.onnx")
    hls = dict(config.get("HLSConfig") or {})
    if isinstance(hls.get("LayerName"), dict):
        hls["LayerName"] = one_entry_per_layer(hls["LayerName"], nodes)
    config["HLSConfig"] = hls
    hls_model.config.config["OutputDir"] = config["OutputDir"]
    hls_model.config.config["OnnxModel"] = config["OnnxModel"]
    path = folder / FILE
    atomic.write_text(path, yaml.dump(config))        # as hls4ml's writer dumps it
    return path
