"""io_stream FIFO depths in the hls4ml project: set on its streams, written into its configuration and read
back from it, so that a project's own ``hls4ml_config.yml`` given to ``--hls-config`` builds (and
``codesign simulate`` prices) the FIFOs the project has.

hls4ml 1.3.0 has no configuration key for a FIFO's depth: every stream gets its full length (H·W words),
which only its ``FifoDepthOptimization`` (RTL co-simulation) shrinks, by setting
``output_vars[name].pragma = ('stream', depth)`` after conversion. The export sets depths the same way
(:func:`apply_fifo_depths`) and writes them as codesign's own per-layer key ``LayerName.<layer>.FifoDepth``
(as ``SparseKernel``; hls4ml ignores keys it does not know): the depth of the layer's output stream, or, for
a layer whose output hls4ml clones for several readers, ``[own, copy 1, copy 2, ...]`` when the copies'
depths differ. Layers are named as the simulator names them (``zp2d_<conv>`` for the ZeroPadding hls4ml
inserts before a padded convolution). The simulator prices a layer's FIFOs at one depth, the largest
(:class:`codesign.sim.mapping.LayerSettings`).

Stream names (:func:`stream_variables`): a layer's output is its hls4ml layer name (also without hls4ml's
``Conv2D_``-style prefix), ``zp2d_<conv>`` the inserted padding's, ``<layer>_cpyK`` the K-th copy of a cloned
output.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Union

from ..errors import ExportError
from ..hls_names import layer_key
from ..sim.mapping import fifo_depth_entry

KEY = "FifoDepth"
_PREFIX = re.compile(r"^(zp[12]d_)?[A-Z][A-Za-z0-9]*_(.+)$")
_COPY = re.compile(r"^(.+)_cpy(\d+)$")
Depth = Union[int, List[int]]


def _keys(name: str):
    yield layer_key(name)
    m = _PREFIX.match(name)
    if m:
        yield layer_key((m.group(1) or "") + m.group(2))


def stream_variables(hls_model) -> Dict[str, Any]:
    """{schedule stream name (normalised): hls4ml output variable} of every stream of ``hls_model``."""
    out: Dict[str, Any] = {}
    keys_of: Dict[str, list] = {}            # variable name -> the names its producer goes by
    for layer in hls_model.get_layers():
        outputs = [hls_model.output_vars[o] for o in layer.outputs if o in hls_model.output_vars]
        if layer.class_name == "Clone":
            source = hls_model.output_vars.get(layer.inputs[0])
            for k, var in enumerate(outputs, 1):
                for key in keys_of.get(source.name if source is not None else "", []):
                    out.setdefault(f"{key}_cpy{k}", var)
            continue
        if outputs:
            keys = list(_keys(layer.name))
            keys_of[outputs[0].name] = keys
            for key in keys:
                out.setdefault(key, outputs[0])
    return out


def apply_fifo_depths(hls_model, streams: Mapping[str, int]) -> Dict[str, Any]:
    """Set the depth of each stream named in ``streams``; returns {'set': n, 'unmatched': m, 'words': total
    words set, 'missing': [names of no stream]}."""
    variables = stream_variables(hls_model)
    done, missing, words = 0, [], 0
    for name, depth in streams.items():
        var = variables.get(layer_key(name))
        if var is None or not getattr(var, "pragma", None):
            missing.append(name)
            continue
        var.pragma = (var.pragma[0], int(depth))
        done, words = done + 1, words + int(depth)
    return {"set": done, "unmatched": len(missing), "words": words, "missing": missing}


def layer_depths(streams: Mapping[str, int]) -> Dict[str, Depth]:
    """Per-stream depths → per-layer ``FifoDepth`` entries (see the module doc)."""
    own = {name: int(d) for name, d in streams.items() if not (_COPY.match(name) and _COPY.match(name)[1] in streams)}
    copies: Dict[str, Dict[int, int]] = {}
    for name, d in streams.items():
        m = _COPY.match(name)
        if m and m[1] in streams:
            copies.setdefault(m[1], {})[int(m[2])] = int(d)
    out: Dict[str, Depth] = {}
    for name, d in own.items():
        cloned = copies.get(name, {})
        depths = [d] + [cloned[k] for k in sorted(cloned)]
        out[name] = d if len(set(depths)) == 1 else depths
    return out


def given_depths(hls_model, layers: Mapping[str, Any]) -> Dict[str, Any]:
    """Set the depths of an hls4ml configuration's ``FifoDepth`` entries (``layers``: {layer: an int or a
    list}, see the module doc): one depth covers the layer's output and every copy of it, a list gives the
    output's, then each copy's. A name that is no stream of the project, or a list of the wrong length, is a
    one-line error. Returns :func:`apply_fifo_depths`' summary and the depths set, per stream."""
    variables = stream_variables(hls_model)
    streams: Dict[str, int] = {}
    for name, value in layers.items():
        depths = fifo_depth_entry(value, f"LayerName.{name}.{KEY}")
        if layer_key(name) not in variables:
            names = sorted(n for n in variables if not _COPY.match(n))
            raise ExportError(f"LayerName.{name}.{KEY}: the hls4ml project has no stream '{name}'; its streams: "
                              f"{', '.join(names[:12])}{' ...' if len(names) > 12 else ''}")
        copies = 0
        while layer_key(f"{name}_cpy{copies + 1}") in variables:
            copies += 1
        if len(depths) > 1 and len(depths) != copies + 1:
            raise ExportError(f"LayerName.{name}.{KEY}: {len(depths)} depths, but the output of '{name}' is one "
                              f"stream and {copies} copies of it: give {copies + 1} depths, or one for all")
        streams[name] = depths[0]
        streams.update({f"{name}_cpy{k}": depths[k if len(depths) > 1 else 0] for k in range(1, copies + 1)})
    return {**apply_fifo_depths(hls_model, streams), "depths": streams}


def record_in_config(hls_model, streams: Mapping[str, int]) -> None:
    """Write the depths set (``streams``) into the configuration hls4ml writes as ``hls4ml_config.yml``:
    ``LayerName.<layer>.FifoDepth``, in the layer's own entry where it has one."""
    section = hls_model.config.config["HLSConfig"].setdefault("LayerName", {})
    entries = {layer_key(n): n for n in section}
    for name, depth in layer_depths(streams).items():
        key = entries.get(layer_key(name), name)
        section.setdefault(key, {})[KEY] = depth
