"""hls4ml's names of a network's layers, and how a per-layer setting finds its layer: one rule for ``codesign
simulate`` and ``codesign export`` (an hls4ml configuration's ``LayerName``, a precision file's ``layers:``), hls4ml's
own. Layers themselves are named by :mod:`codesign.naming`.

- a name matches (:func:`find_layer`) as given, as a lower-case C identifier (``Block.C1`` ≡ ``block_c1``;
  hls4ml matches types and reuse factors in lower case), or as the layer hls4ml made of it: its ONNX passes
  replace a node by a layer named ``Conv2D_c1``, ``Dense_fc``, ``DepthwiseConv2D_dw``, ``bn_<add>`` or
  ``<quant>_act`` (:data:`HLS_PREFIX`) and copy the node's entry to it;
- so hls4ml's precedence among two entries of one layer is the node's own name (``c1``) over the name it made
  (``Conv2D_c1``) (:func:`merge_entries`). Entries that give one setting different values are refused in one
  line naming both, since the two commands and hls4ml would otherwise build three designs (:func:`check_entries`
  checks a file as written); ``auto`` (hls4ml infers the type, the export chooses it) yields to a type another
  entry gives.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Hashable, List, Mapping, Optional, Sequence, Tuple, TypeVar

from .errors import ConfigError
from .naming import c_identifier

T = TypeVar("T", bound=Hashable)

#: the prefixes of the layers hls4ml's ONNX passes make of a node (model/optimizer/passes: conv_to_convxd,
#: conv_to_depthwiseconvxd, matmul_const_to_dense, merge_const), copying the node's LayerName entry to it
HLS_PREFIX = re.compile(r"^(dense|conv1d|conv2d|depthwiseconv1d|depthwiseconv2d|pointwiseconv1d|pointwiseconv2d|bn)_",
                        re.IGNORECASE)
HLS_SUFFIX = re.compile(r"_act$", re.IGNORECASE)     # a qonnx Quant's Activation (passes/quant_opt.py)
PAD_PREFIXES = ("zp2d_", "zp1d_")                     # the ZeroPadding hls4ml inserts before a padded conv (io_stream)


def layer_key(name: str) -> str:
    """hls4ml compares layer names in lower case, and writes C identifiers: 'layers.0.conv1' ≡ 'layers_0_conv1';
    a name starting with a digit (nn.Sequential's '0') is the export's 'l_0' (:func:`c_identifier`)."""
    key = re.sub(r"[^0-9a-z_]", "_", name.lower())
    return key if key and not key[0].isdigit() else f"l_{key}"


def hls_origin(name: str) -> str:
    """The key of the layer an hls4ml layer name came from: 'Dense_fc1' → 'fc1', 'relu1_quant_act' → 'relu1_quant'."""
    return HLS_SUFFIX.sub("", HLS_PREFIX.sub("", layer_key(name)))


def hls_layer_name(name: str) -> str:
    """The hls4ml layer name of a network layer: its C identifier; the padding before a conv is ``zp2d_<conv's>``
    ('zp2d_0' → 'zp2d_l_0', as the export's reports name it)."""
    pad = next((p for p in PAD_PREFIXES if name.startswith(p)), None)
    return pad + c_identifier(name[len(pad):]) if pad else c_identifier(name)


def layer_keys(name: str) -> Tuple[str, ...]:
    """The keys a network's layer is found by: its name, its :func:`layer_key`, and for the padding hls4ml inserts
    before a convolution (``zp2d_<conv>``) that with the conv's key (simulate's 'zp2d_0' is the export's 'zp2d_l_0')."""
    keys = [name, layer_key(name)]
    pad = next((p for p in PAD_PREFIXES if name.startswith(p)), None)
    if pad:
        keys.append(pad + layer_key(name[len(pad):]))
    return tuple(dict.fromkeys(keys))


def candidates(given: str) -> Tuple[str, ...]:
    """The keys a per-layer entry is looked up by, in order: as given, as a lower-case C identifier, without
    hls4ml's renaming prefix (``Dense_fc1`` is ``fc1``), without its suffix too."""
    key = layer_key(given)
    return tuple(dict.fromkeys((given, key, HLS_PREFIX.sub("", key), hls_origin(given))))


def find_layer(given: str, index: Mapping[str, T]) -> Optional[T]:
    """The layer ``index`` ({key of :func:`layer_keys`: layer}) has under the entry name ``given`` (None: none)."""
    return next((index[c] for c in candidates(given) if c in index), None)


def hls4ml_order(names: Sequence[str]) -> List[str]:
    """Entries of one layer in hls4ml's order of application: the names hls4ml makes (``Conv2D_c1``) first, the
    node's own name (``c1``), whose entry hls4ml copies over them, last."""
    return sorted(names, key=lambda n: hls_origin(n) == layer_key(n))


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower() == "auto"


def _shown(value: Any) -> str:
    return value.hls() if hasattr(value, "hls") else str(value)


def merge_entries(entries: Sequence[Tuple[str, Mapping[str, Any]]], layer: str) -> Dict[str, Any]:
    """The entries (given name, {setting: value}) of one ``layer`` as one, merged in :func:`hls4ml_order`. A
    setting two entries give different values is a one-line ConfigError naming both; None sets nothing and
    ``auto`` yields to a value."""
    values = dict(entries)
    merged: Dict[str, Any] = {}
    source: Dict[str, str] = {}
    for name in hls4ml_order([n for n, _ in entries]):
        for key, value in values[name].items():
            if value is None or key in merged and _is_auto(value):
                continue
            if key in merged and not _is_auto(merged[key]) and merged[key] != value:
                own = next((n for n in (name, source[key]) if hls_origin(n) == layer_key(n)), name)
                raise ConfigError(f"'{source[key]}' and '{name}' are one layer ({layer}) and set its {key} to "
                                  f"{_shown(merged[key])} and {_shown(value)}: keep one of them (hls4ml reads "
                                  f"'{own}')")
            merged[key], source[key] = value, name
    return merged


def merge_by_layer(entries: Mapping[str, Mapping[str, Any]], layer_of: Mapping[str, T]) -> Dict[T, Dict[str, Any]]:
    """{layer: its entries merged (:func:`merge_entries`)} of entries keyed by given name; ``layer_of``: {given
    name: its layer}."""
    groups: Dict[T, List[Tuple[str, Mapping[str, Any]]]] = {}
    for name, values in entries.items():
        groups.setdefault(layer_of[name], []).append((name, values))
    return {layer: merge_entries(group, str(layer)) for layer, group in groups.items()}


def check_entries(entries: Mapping[str, Mapping[str, Any]]) -> None:
    """A one-line ConfigError where two entries that hls4ml takes for one layer (their :func:`hls_origin` is one)
    give one setting different values; checked on the entries as written, before any network is known."""
    groups: Dict[str, List[Tuple[str, Mapping[str, Any]]]] = {}
    for name, values in entries.items():
        groups.setdefault(hls_origin(name), []).append((name, values))
    for origin, group in groups.items():
        if len(group) > 1:
            merge_entries(group, origin)
