"""The io_stream project's process graph: what hls4ml builds around the layers, and every FIFO.

hls4ml 1.3.0 adds two kinds of processes to an io_stream design that the network itself does not show:

- a **ZeroPadding2D/1D layer before every padded convolution** (``backends/vivado/passes/conv_same_pad.py``,
  ``InsertZeroPaddingBeforeConv2D``: named ``zp2d_<conv>``; the conv then runs 'valid' on the padded
  tensor, e.g. ``in_height = 34`` after ``zeropad2d_cl`` for a 32x32 'same' 3x3 conv). It has its own
  cycles and output FIFO. :func:`stream_network` inserts these as ``pad`` layers;
- a **Clone after every output read by more than one layer** (``backends/fpga/passes/clone.py``,
  ``CloneOutput``: ``clone_<layer>`` copies the stream into ``<var>_cpy1``, ``<var>_cpy2``, ...; at most 7).

Every stream between two processes is one FIFO (``#pragma HLS STREAM variable=<var> depth=<D>``); the
network input and output streams are the design's ports (not sized by hls4ml's FIFO optimisation).
A stream word is one pixel with all its channels (hls4ml packs the last dimension into one word).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..errors import CodesignError
from ..memo import Memo
from .hls_rules import stream_pooling_problem
from .layers import Layer, Network

PAD_OP = "pad"
PAD_PREFIX = "zp2d_"
MAX_CLONES = 7                      # clone.py: more than 7 copies of one stream are refused


def conv_padding(layer: Layer) -> Tuple[int, int, int, int]:
    """(top, bottom, left, right) zero padding of a convolution, as hls4ml's ZeroPadding layer adds it.

    Taken from ``layer.padding`` when the layer carries it; otherwise inferred from the shapes: the
    padding the output size needs, made symmetric (PyTorch and its ONNX export pad both sides equally,
    e.g. 1+1 for a stride-2 3x3 conv on 32x32 that strictly needs 1); an odd total that cannot be
    symmetric puts the extra row/column at the bottom/right, as Keras 'same' does.
    """
    explicit = getattr(layer, "padding", None)
    if explicit:
        return tuple(int(p) for p in explicit)
    (_, h_in, w_in), (_, h_out, w_out) = layer.in_shape, layer.out_shape
    (kh, kw), (sh, sw) = layer.kernel, layer.stride

    def split(n_in: int, n_out: int, k: int, s: int) -> Tuple[int, int]:
        need = max((n_out - 1) * s + k - n_in, 0)
        if need == 0:
            return 0, 0
        sym = need + need % 2
        if (n_in + sym - k) // s + 1 == n_out:
            return sym // 2, sym // 2
        return need // 2, need - need // 2

    top, bottom = split(h_in, h_out, kh, sh)
    left, right = split(w_in, w_out, kw, sw)
    return top, bottom, left, right


@dataclass(frozen=True)
class StreamNetwork:
    """A network as the io_stream project contains it: ``origin[i]`` is the index of layer ``i`` in the
    network it was made from, -1 for an inserted padding layer."""

    network: Network
    origin: np.ndarray

    def take(self, values: np.ndarray, fill=0) -> np.ndarray:
        """Per-layer ``values`` of the original network, spread onto this one (``fill`` for pads)."""
        values = np.asarray(values)
        out = np.full(len(self.origin), fill, dtype=values.dtype)
        known = self.origin >= 0
        out[known] = values[self.origin[known]]
        return out


def check_stream_pooling(layer: Layer) -> None:
    """A one-line error for a pooling hls4ml's io_stream kernels cannot build
    (:func:`~codesign.sim.hls_rules.stream_pooling_problem`); a 1-D pooling is one over an H = 1 map with a
    1-row window and stride."""
    one_d = layer.in_shape[1] == 1 and layer.kernel[0] == 1 and layer.stride[0] == 1
    problem = stream_pooling_problem(layer.kernel, layer.stride, any(conv_padding(layer)), one_d)
    if problem:
        raise CodesignError(f"layer '{layer.name}': {problem}")


def stream_network(net: Network) -> StreamNetwork:
    """``net`` with hls4ml's ZeroPadding layer before every padded convolution (idempotent: a conv whose
    input is already padded needs none). Cached by the network's structure and names."""
    key = (net.signature, tuple(l.name for l in net.layers), net.name, net.source, tuple(net.input_shape))
    return _PADDED.get_or_make(key, lambda: _pad(net))


_PADDED = Memo(256)


def _pad(net: Network) -> StreamNetwork:
    layers: List[Layer] = []
    origin: List[int] = []
    renamed: Dict[str, str] = {}
    for i, layer in enumerate(net.layers):
        if layer.op in ("maxpool", "avgpool"):
            check_stream_pooling(layer)
        inputs = tuple(renamed.get(p, p) for p in layer.inputs)
        pads = conv_padding(layer) if layer.op == "conv" else (0, 0, 0, 0)
        if any(pads):
            c, h, w = layer.in_shape
            padded = (c, h + pads[0] + pads[1], w + pads[2] + pads[3])
            layers.append(Layer(PAD_PREFIX + layer.name, PAD_OP, inputs, layer.in_shape, padded))
            origin.append(-1)
            layer = replace(layer, inputs=(PAD_PREFIX + layer.name,), in_shape=padded)
            if hasattr(layer, "padding"):
                layer = replace(layer, padding=(0, 0, 0, 0))
        elif inputs != layer.inputs:
            layer = replace(layer, inputs=inputs)
        layers.append(layer)
        origin.append(i)
    if len(layers) == len(net.layers):
        return StreamNetwork(net, np.arange(len(net.layers)))
    out = Network(net.name, tuple(layers), net.input_shape, net.source, dict(net.meta))
    return StreamNetwork(out, np.array(origin, dtype=np.int64))


# --------------------------------------------------------------------------------------- processes and FIFOs

@dataclass(frozen=True)
class Fifo:
    """One stream: ``name`` is hls4ml's variable stem (the producer layer's name, ``<name>_cpyK`` after a
    clone, ``input`` for the network input); ``consumer`` -1 is the network output port."""

    name: str
    producer: int            # process index
    consumer: int            # process index, -1: the design's output port
    words: int               # words per inference
    lanes: int               # elements per word (channels)
    layer: int               # network layer whose result it carries (-1: the network input)

    @property
    def external(self) -> bool:
        """A port of the design (the input or output stream), not a FIFO hls4ml sizes."""
        return self.layer < 0 or self.consumer < 0


@dataclass(frozen=True)
class Process:
    name: str
    kind: str                # 'source' (the input port), 'layer', 'clone'
    layer: int               # network layer index; the copied layer for a clone; -1 for the source
    inputs: Tuple[int, ...]  # FIFO indices, in the layer's input order
    outputs: Tuple[int, ...]  # FIFO indices (a clone writes every word to all of them)


@dataclass(frozen=True)
class StreamGraph:
    network: Network
    processes: Tuple[Process, ...]
    fifos: Tuple[Fifo, ...]

    def fifo_index(self) -> Dict[str, int]:
        return {f.name: i for i, f in enumerate(self.fifos)}

    def internal(self) -> np.ndarray:
        """Indices of the FIFOs hls4ml sizes (every stream but the design's ports)."""
        return np.array([i for i, f in enumerate(self.fifos) if not f.external], dtype=np.int64)


def stream_graph(net: Network, input_name: str = "input") -> StreamGraph:
    """The processes (input port, layers, clones) and FIFOs of ``net`` built with io_stream.

    ``net`` is taken as given: pass :func:`stream_network`'s network to include hls4ml's padding layers.
    Cached by the network's structure and names (treat the result as read-only).
    """
    key = (net.signature, tuple(l.name for l in net.layers), tuple(net.input_shape), input_name)
    graph = _GRAPHS.get_or_make(key, lambda: _build_graph(net, input_name))
    return graph if graph.network is net else StreamGraph(net, graph.processes, graph.fifos)


_GRAPHS = Memo(256)


def _build_graph(net: Network, input_name: str) -> StreamGraph:
    a = net.arrays
    readers: Dict[int, List[Tuple[int, int]]] = {i: [] for i in range(-1, len(net))}   # producer -> (layer, slot)
    for i, preds in enumerate(a.preds):
        for slot, p in enumerate(preds or (-1,)):
            readers[p].append((i, slot))
    proc_of, clone_of, n = {}, {}, 0                  # process indices: each producer, then its clone
    for producer in range(-1, len(net)):
        proc_of[producer], n = n, n + 1
        if len(readers[producer]) > 1:
            clone_of[producer], n = n, n + 1
    procs: List[Optional[Process]] = [None] * n
    fifos: List[Fifo] = []
    inputs: Dict[Tuple[int, int], int] = {}
    for producer in range(-1, len(net)):
        name = input_name if producer < 0 else net.layers[producer].name
        if producer < 0:
            shape = tuple(int(d) for d in net.input_shape)
            # (C, H, W) and a 1-D signal's (C, L): one word of C lanes per pixel; features: one word
            words, lanes = (int(np.prod(shape[1:])), shape[0]) if len(shape) in (2, 3) else (1, int(np.prod(shape)))
        else:
            words, lanes = int(a.out_h[producer] * a.out_w[producer]), int(a.cout[producer])
        users, p = readers[producer], proc_of[producer]
        if len(users) > MAX_CLONES:
            raise CodesignError(f"'{name}' is read by {len(users)} layers; hls4ml clones a stream at most "
                                f"{MAX_CLONES} times")
        consumer = clone_of.get(producer, proc_of[users[0][0]] if users else -1)
        fifos.append(Fifo(name, p, consumer, words, lanes, producer))
        out = len(fifos) - 1
        if len(users) == 1:
            inputs[users[0]] = out
        elif len(users) > 1:
            copies = []
            for k, user in enumerate(users, 1):
                fifos.append(Fifo(f"{name}_cpy{k}", consumer, proc_of[user[0]], words, lanes, producer))
                inputs[user] = len(fifos) - 1
                copies.append(len(fifos) - 1)
            procs[consumer] = Process(f"clone_{name}", "clone", producer, (out,), tuple(copies))
        if producer < 0:
            procs[p] = Process(input_name, "source", -1, (), (out,))
        else:
            slots = tuple(inputs[(producer, s)] for s in range(len(a.preds[producer]) or 1))
            procs[p] = Process(name, "layer", producer, slots, (out,))
    return StreamGraph(net, tuple(procs), tuple(fifos))


def fifo_for_layer(graph: StreamGraph, name: str) -> Optional[int]:
    """The index of the FIFO carrying layer ``name``'s result out of the layer (None if unknown)."""
    for i, f in enumerate(graph.fifos):
        if f.name == name:
            return i
    return None
