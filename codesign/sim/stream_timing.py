"""io_stream timing that follows hls4ml's stream kernels (hls4ml 1.3.0, ``templates/vivado/nnet_utils``).

Every layer is a DATAFLOW process that loops over its input stream one word (one pixel, all channels)
per iteration. Its **rate profile** says, per iteration, how many cycles it takes, whether it reads a word,
and which output words it writes how many cycles after the iteration starts:

- **convolution** (``nnet_conv2d_stream.h::conv_2d_buffer_cl``, ``nnet_conv_stream.h::compute_output_buffer_2d``,
  1-D and depthwise alike): one iteration per input pixel of the *padded* input (hls4ml's ZeroPadding layer
  comes first, :mod:`codesign.sim.stream_graph`); the pixel enters the line buffer and, only where a kernel
  window ends at the stride (``sX == filt_width-1`` and ``sY == filt_height-1``), the dense step runs and one
  output word is written. Under the Latency strategy the pixel loop is ``PIPELINE II=reuse_factor``: every pixel
  costs RF cycles and the output comes ``conv_depth`` cycles later. Under Resource the loop is not pipelined:
  a window costs the dense loop (``dense_resource``: RF iterations at II=1) plus ``stream_window_extra_cycles``,
  any other pixel only shifts the line buffer (``stream_shift_cycles``) -- a stride-4 conv computes at 1/16 of
  its pixels;
- **pooling** (``nnet_pooling_stream.h::pooling2d_buffer_cl``): pipelined II=1 per input pixel in every
  strategy, one output at each window end; global pooling reads the whole stream and writes one word;
- **ZeroPadding** (``nnet_padding_stream.h::zeropad2d_cl``): one iteration per *output* word, reading an
  input word only inside the image;
- **activations, BatchNorm, Add/Concat/Multiply, Clone** (``nnet_activation_stream.h``,
  ``nnet_batchnorm_stream.h``, ``nnet_merge_stream.h``, ``nnet_stream.h``): pipelined II=1 per word; on a
  one-word stream they are inlined (0 cycles, as the SVHN report shows);
- **dense** (``nnet_dense_stream.h``): reads all its input words (II=1), then one dense call (Latency:
  ``PIPELINE II=RF``; Resource: the RF-iteration loop) writes the result word; softmax is one call.

A process runs one inference per call: its call ends when its last write is done (latency = last write + 1)
and the next call starts a cycle later (process interval = latency + 1, the DATAFLOW region's interval is
the slowest process's, as HLS reports it). A process of **one iteration** per call (a one-word stream: a dense
layer after a flatten, its activation) has no loop left; how HLS reports it depends on the tool
(:func:`region_interval`, ``plan.backend``): Vivado HLS pipelines the function at the kernel's own II (1, or
RF for a Latency dense) and the region's interval is the slowest process's; Vitis HLS runs it as one call
(interval = its latency), and a region made only of such processes as one sequential call (interval = the
region's latency). Data: hls4ml's Dense(1->2/64) + activation io_stream baselines, Vivado HLS 2020.1 (II 1 at
latency 2-4, 6 designs) and Vitis HLS 2023.1 (II = latency: 2 for ReLU-like, 4 for ELU/sigmoid/dense, 6
designs), the fitting split; Vitis HLS 2024.1 reports the same (evaluation split). :mod:`codesign.sim.stream_schedule` runs the whole DATAFLOW
pipeline with unbounded FIFOs for the network latency and interval; :mod:`codesign.sim.fifo_depths` sizes
the FIFOs from it, :mod:`codesign.sim.stream_events` checks them with bounded FIFOs.

Constants are calibration parameters (``devices/_calibration.yaml``, section ``dataflow``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import List, Mapping, Optional, Tuple

import numpy as np

from ..memo import Memo
from .stream_graph import PAD_OP, StreamGraph

ELEMENTWISE = ("act", "bn", "add", "mul", "concat")
POOLS = ("maxpool", "avgpool")
#: activations hls4ml computes with lookup tables (nnet_activation_stream.h); their lookup adds cycles
TABLE_ACTIVATIONS = ("elu", "selu", "sigmoid", "tanh", "softplus", "softsign")


@dataclass(frozen=True)
class StreamCal:
    """The timing constants (cycles) the stream kernels need, read from a device's calibration."""

    conv_depth: float = 2.0
    conv1d_depth: float = 1.0
    pool_depth: float = 5.0
    act_depth: float = 2.0
    add_depth: float = 2.0
    mult: float = 1.0
    adder_levels: float = 6.0
    softmax: float = 7.0
    table: float = 2.0
    window_extra: float = 5.0
    shift: float = 4.0
    pad_per_word: float = 1.0
    clone_depth: float = 1.0
    fifo_latency: float = 1.0

    KEYS = {"conv_depth": "stream_conv2d_extra_cycles", "conv1d_depth": "stream_conv1d_extra_cycles",
            "pool_depth": "pool_depth_cycles", "act_depth": "act_depth_cycles", "add_depth": "add_depth_cycles",
            "mult": "mult_cycles", "adder_levels": "adder_levels_per_cycle", "softmax": "softmax_cycles",
            "table": "stream_table_activation_cycles",
            "window_extra": "stream_window_extra_cycles", "shift": "stream_shift_cycles",
            "pad_per_word": "stream_pad_cycles_per_word", "clone_depth": "stream_clone_depth_cycles",
            "fifo_latency": "stream_fifo_latency_cycles"}

    @classmethod
    def from_calibration(cls, cal: Mapping[str, float]) -> "StreamCal":
        """From a device's calibration (keys ``dataflow.<name>``); missing keys keep the defaults above."""
        values = {}
        for field, key in cls.KEYS.items():
            try:
                values[field] = float(cal[f"dataflow.{key}"])
            except KeyError:
                pass
        return cls(**values)


def as_cal(cal) -> StreamCal:
    if isinstance(cal, StreamCal):
        return cal
    if cal is None:
        return StreamCal()
    return StreamCal.from_calibration(getattr(cal, "calibration", cal))


# --------------------------------------------------------------------------------------- rate profiles

@dataclass(frozen=True, eq=False)
class RateProfile:
    """One call (one inference) of a process: ``cost[i]`` cycles from iteration i's start to the earliest
    start of i+1; ``reads[i]``: it reads one word from every input stream; output word j is written by
    iteration ``write_iter[j]``, ``write_off[j]`` cycles after that iteration starts; the call ends ``drain``
    cycles after its last iteration starts (a pipelined loop empties its pipeline whether or not the last
    iteration writes)."""

    cost: np.ndarray
    reads: np.ndarray
    write_iter: np.ndarray
    write_off: np.ndarray
    drain: float
    call_ii: float = 0.0      # a one-iteration call that Vivado HLS pipelines: its II (0: not a pipelined function)

    @cached_property
    def starts(self) -> np.ndarray:
        """Iteration starts of a call that never waits."""
        return np.concatenate(([0.0], np.cumsum(self.cost[:-1])))

    @cached_property
    def read_iters(self) -> np.ndarray:
        """The iterations that read a word."""
        return np.flatnonzero(self.reads)

    @property
    def latency(self) -> float:
        """Cycles of one call that never waits (0: inlined)."""
        return float(self.starts[-1] + self.drain)

    @property
    def interval(self) -> float:
        """Cycles between the starts of two calls: a loop's latency + 1; a one-iteration call is a pipelined
        function (II = its latency, as Vitis reports it)."""
        if len(self.cost) == 1:
            return max(self.latency, 1.0)
        return self.latency + 1.0

    def interval_for(self, backend: str) -> float:
        """:attr:`interval` as ``backend``'s HLS tool reports it: Vivado HLS pipelines a one-iteration call at
        its kernel's II (:attr:`call_ii`)."""
        if backend == "Vivado" and len(self.cost) == 1 and self.call_ii:
            return self.call_ii
        return self.interval

    @property
    def first_output(self) -> float:
        """Cycles from the first read to the first write when inputs arrive at full rate."""
        if not len(self.write_iter):
            return self.latency
        return float(self.starts[self.write_iter[0]] + self.write_off[0])


def rate_profile(cost, reads, write_iter, write_off, drain: Optional[float] = None, call_ii: float = 0.0) -> RateProfile:
    """``drain`` None: a loop that is not pipelined (the call ends with its last iteration or last write);
    ``call_ii``: see :attr:`RateProfile.call_ii`."""
    n = len(cost)
    cost = np.asarray(cost, dtype=float).reshape(n)
    write_iter = np.asarray(write_iter, dtype=np.int64)
    write_off = np.asarray(write_off, dtype=float)
    if drain is None:
        drain = float(cost[-1])
        if len(write_iter) and write_iter[-1] == n - 1:
            drain = max(drain, float(write_off[-1]) + 1.0)
    return RateProfile(cost, np.asarray(reads, dtype=bool).reshape(n), write_iter, write_off, float(drain),
                       float(call_ii))


def uniform_profile(n: int, cost: float, off: float, reads: bool = True) -> RateProfile:
    """A loop pipelined at II = ``cost``, each iteration writing one word ``off`` cycles after it starts."""
    return rate_profile(np.full(n, float(cost)), np.full(n, reads), np.arange(n), np.full(n, float(off)),
                        off + 1.0 if cost else 0.0, call_ii=1.0)


def window_ends(height: int, width: int, kh: int, kw: int, sh: int, sw: int) -> np.ndarray:
    """Pixels (row-major) where hls4ml's line buffer completes a kernel window (its ``sX``/``sY`` counters)."""
    wy = (np.arange(height) >= kh - 1) & ((np.arange(height) - (kh - 1)) % sh == 0)
    wx = (np.arange(width) >= kw - 1) & ((np.arange(width) - (kw - 1)) % sw == 0)
    return (wy[:, None] & wx[None, :]).ravel()


def dense_cycles(n_in: int, rf: int, resource: bool, cal: StreamCal) -> float:
    """One dense call: Resource runs RF loop iterations plus the window overhead; Latency pipelines at
    II=RF with a multiply and ceil(log2 n_in / levels-per-cycle) adder stages."""
    if resource:
        return float(rf + cal.window_extra)
    adder = np.ceil(np.log2(max(n_in, 1)) / cal.adder_levels)
    return float(cal.mult + adder + rf - 1)


def conv_pixel_depth(n_in: int, rf: int, kh: int, cal: StreamCal) -> float:
    """Cycles from a pixel's read to its output under the Latency strategy: the dense call plus the line
    buffer (2-D) or the kernel shift (1-D)."""
    return dense_cycles(n_in, rf, False, cal) + (cal.conv_depth if kh > 1 else cal.conv1d_depth)


def layer_profile(net_layer, rf: int, resource: bool, cal: StreamCal) -> RateProfile:
    """The rate profile of one layer (a :class:`~codesign.sim.layers.Layer`) at reuse factor ``rf``
    (cached by shape: the blocks of a deep network share theirs; treat it as read-only)."""
    l = net_layer
    return _layer_profile(_Shape(l.op, l.in_shape, l.out_shape, l.kernel, l.stride, l.n_in,
                                 getattr(l, "activation", "")), int(rf), bool(resource), cal)


@dataclass(frozen=True)
class _Shape:
    """What a layer's rate profile depends on."""
    op: str
    in_shape: Tuple[int, int, int]
    out_shape: Tuple[int, int, int]
    kernel: Tuple[int, int]
    stride: Tuple[int, int]
    n_in: int
    activation: str


@lru_cache(maxsize=4096)
def _layer_profile(net_layer: _Shape, rf: int, resource: bool, cal: StreamCal) -> RateProfile:
    op = net_layer.op
    _, h_in, w_in = net_layer.in_shape
    words_in = h_in * w_in
    if op == "conv":
        (kh, kw), (sh, sw) = net_layer.kernel, net_layer.stride
        ends = window_ends(h_in, w_in, kh, kw, sh, sw)
        it = np.flatnonzero(ends)
        if resource:
            win = float(rf + cal.window_extra)
            return rate_profile(np.where(ends, win, cal.shift), np.ones(words_in, bool), it,
                                np.full(len(it), win - 1.0))
        off = conv_pixel_depth(net_layer.n_in, rf, kh, cal)
        return rate_profile(np.full(words_in, float(rf)), np.ones(words_in, bool), it, np.full(len(it), off),
                            off + 1.0)
    if op in POOLS:
        (kh, kw), (sh, sw) = net_layer.kernel, net_layer.stride
        it = np.flatnonzero(window_ends(h_in, w_in, kh, kw, sh, sw))
        return rate_profile(np.ones(words_in), np.ones(words_in, bool), it, np.full(len(it), cal.pool_depth),
                        cal.pool_depth + 1.0)
    if op == "globalpool":
        return rate_profile(np.ones(words_in), np.ones(words_in, bool), [words_in - 1], [cal.pool_depth])
    if op == PAD_OP:
        _, h_out, w_out = net_layer.out_shape
        top, left = (h_out - h_in) // 2, (w_out - w_in) // 2
        y, x = np.divmod(np.arange(h_out * w_out), w_out)
        reads = (y >= top) & (y < top + h_in) & (x >= left) & (x < left + w_in)
        n = h_out * w_out
        return rate_profile(np.full(n, cal.pad_per_word), reads, np.arange(n), np.full(n, cal.pad_per_word - 1.0))
    if op == "dense":
        call = dense_cycles(net_layer.n_in, rf, resource, cal)
        if words_in == 1:                                # no read loop: one pipelined call (Latency: II=RF)
            return rate_profile([1.0 + call], [True], [0], [call], call_ii=0.0 if resource else float(rf))
        cost = np.concatenate((np.ones(words_in), [call]))
        reads = np.concatenate((np.ones(words_in, bool), [False]))
        return rate_profile(cost, reads, [words_in], [call - 1.0])
    if op == "softmax":
        return rate_profile(np.concatenate((np.ones(words_in - 1), [cal.softmax])), np.ones(words_in, bool),
                        [words_in - 1], [cal.softmax - 1.0])
    if op in ELEMENTWISE:
        table = cal.table if net_layer.activation in TABLE_ACTIVATIONS else 0.0
        if words_in == 1:                                # inlined, but for a table lookup
            return uniform_profile(1, table, table - 1.0) if table else uniform_profile(1, 0.0, 0.0)
        depth = (cal.add_depth if op in ("add", "mul", "concat") else cal.act_depth) + table
        return uniform_profile(words_in, 1.0, depth)
    raise ValueError(f"no io_stream timing for op '{op}'")


@lru_cache(maxsize=1024)
def clone_profile(words: int, cal: StreamCal) -> RateProfile:
    return uniform_profile(words, 1.0, cal.clone_depth)


@lru_cache(maxsize=1024)
def source_profile(words: int) -> RateProfile:
    """The input port: one word per cycle."""
    return rate_profile(np.ones(words), np.zeros(words, bool), np.arange(words), np.zeros(words))


def process_profiles(graph: StreamGraph, rf: np.ndarray, resource: np.ndarray, cal) -> List[RateProfile]:
    """The rate profile of every process of ``graph`` (``rf``/``resource`` indexed like its network)."""
    cal = as_cal(cal)
    out = []
    for p in graph.processes:
        if p.kind == "source":
            out.append(source_profile(graph.fifos[p.outputs[0]].words))
        elif p.kind == "clone":
            out.append(clone_profile(graph.fifos[p.inputs[0]].words, cal))
        else:
            out.append(layer_profile(graph.network.layers[p.layer], int(rf[p.layer]), bool(resource[p.layer]), cal))
    return out


# --------------------------------------------------------------------------------------- closed form

def layer_timing(net, rf: np.ndarray, resource: np.ndarray, cal,
                 backend: str = "Vitis") -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cycles, first-output depth, interval) per layer of ``net``, vectorised: the rate profiles'
    ``latency``, ``first_output`` and ``interval_for(backend)`` in closed form. Layers without a stream
    kernel: 0."""
    cal = as_cal(cal)
    a = net.arrays
    rf = np.asarray(rf, dtype=float)
    resource = np.asarray(resource, dtype=bool)
    px = (a.in_h * a.in_w).astype(float)
    kh, kw = a.kh.astype(float), a.kw.astype(float)
    sh = np.maximum(a.stride, 1).astype(float)
    sw = np.array([l.stride[1] for l in net.layers], dtype=float).clip(1)
    out_h = np.floor((a.in_h - kh) / sh) + 1
    out_w = np.floor((a.in_w - kw) / sw) + 1
    windows = np.maximum(out_h, 0) * np.maximum(out_w, 0)
    first_end = (kh - 1) * a.in_w + kw - 1                               # pixel of the first window end
    last_end = ((out_h - 1) * sh + kh - 1) * a.in_w + (out_w - 1) * sw + kw - 1
    win = rf + cal.window_extra
    dense_lat = cal.mult + np.ceil(np.log2(np.maximum(a.n_in, 1)) / cal.adder_levels) + rf - 1
    dense = np.where(resource, rf + cal.window_extra, dense_lat)                  # dense_cycles, vectorised
    depth = dense_lat + np.where(kh > 1, cal.conv_depth, cal.conv1d_depth)
    conv_cyc = np.where(resource, windows * win + (px - windows) * cal.shift, (px - 1) * rf + depth + 1)
    conv_first = np.where(resource, first_end * cal.shift + win - 1, first_end * rf + depth)
    kinds_of = getattr(a, "activation", None)
    table = np.where(np.isin(kinds_of, TABLE_ACTIVATIONS), cal.table, 0.0) if kinds_of is not None \
        else np.zeros(len(net))
    elem_d = np.where(a.mask("add", "mul", "concat"), cal.add_depth, cal.act_depth) + table
    px_out = (a.out_h * a.out_w).astype(float)
    elem = a.mask(*ELEMENTWISE)
    kinds = [a.mask("conv"), a.mask(*POOLS), a.mask("globalpool"), a.mask("dense"), a.mask("softmax"),
             elem & (px > 1), elem & (px == 1) & (table > 0), a.mask(PAD_OP)]
    cycles = np.select(kinds, [conv_cyc, px + cal.pool_depth, px + cal.pool_depth, px + dense,
                               px - 1 + cal.softmax, px + elem_d, table, px_out * cal.pad_per_word], 0.0)
    first = np.select(kinds, [conv_first, first_end + cal.pool_depth, px - 1 + cal.pool_depth, px + dense - 1,
                              px - 2 + cal.softmax, elem_d, table - 1, cal.pad_per_word - 1.0], 0.0)
    iterations = np.where(a.mask(PAD_OP), px_out, np.where(a.mask("dense") & (px > 1), px + 1, px))
    interval = np.where(iterations == 1, np.maximum(cycles, 1.0), cycles + 1.0)
    if backend == "Vivado":                      # RateProfile.interval_for: a one-iteration call is pipelined
        call_ii = np.where(a.mask("dense"), np.where(resource, 0.0, rf), np.where(elem, 1.0, 0.0))
        interval = np.where((iterations == 1) & (call_ii > 0), call_ii, interval)
    return cycles, first, interval


# --------------------------------------------------------------------------------------- the estimator's interface

def stream_layer_timing(net, plan, cal, adder=None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cycles, first-output depth, interval) per layer of ``net`` under io_stream, read from ``plan``
    (``rf``, ``resource`` per layer). A padded convolution is timed on the padded stream hls4ml gives it;
    the padding layers themselves count in :func:`stream_network_timing`. ``adder`` is unused (the
    kernels' own adder stages are in :func:`dense_cycles`)."""
    from .stream_graph import stream_network

    sn = stream_network(net)
    cycles, first, interval = layer_timing(sn.network, sn.take(plan.rf, 1), sn.take(plan.resource, False), cal,
                                           plan.backend)
    keep = sn.origin >= 0
    return cycles[keep], first[keep], interval[keep]


def stream_network_timing(net, plan, cyc=None, depth=None, interval=None, cal=None) -> Tuple[float, float]:
    """(latency, interval) of ``net``'s io_stream DATAFLOW region, cycles: the schedule of the processes
    hls4ml builds (padding layers and clones included). The per-layer arrays are not needed. Cached by
    network, reuse factors, strategies and constants (a sweep over devices or precisions reuses it)."""
    rf = np.asarray(plan.rf, dtype=np.int64)
    resource = np.asarray(plan.resource, dtype=bool)
    return _network_timing(net.signature, net, rf.tobytes(), resource.tobytes(), as_cal(cal), plan.backend)


def region_interval(profiles: List[RateProfile], latency: float, backend: str) -> float:
    """The DATAFLOW region's interval as ``backend``'s HLS tool reports it: the slowest process's
    (:meth:`RateProfile.interval_for`); under Vitis HLS a region whose every process is a one-iteration call
    runs as one sequential call (interval = the region's latency; see the module doc)."""
    if backend != "Vivado" and all(len(p.cost) == 1 for p in profiles):
        return max(float(latency), 1.0)
    return max(p.interval_for(backend) for p in profiles)


_TIMING_CACHE = Memo(4096)


def _network_timing(signature: str, net, rf: bytes, resource: bytes, cal: StreamCal,
                    backend: str = "Vitis") -> Tuple[float, float]:
    from .stream_graph import stream_graph, stream_network
    from .stream_schedule import stream_schedule

    def timing() -> Tuple[float, float]:
        sn = stream_network(net)
        graph = stream_graph(sn.network)
        rfs, res = np.frombuffer(rf, dtype=np.int64), np.frombuffer(resource, dtype=bool)
        profiles = process_profiles(graph, sn.take(rfs, 1), sn.take(res, False), cal)
        sched = stream_schedule(graph, profiles, 1, cal)
        return sched.latency, region_interval(profiles, sched.latency, backend)

    return _TIMING_CACHE.get_or_make((signature, rf, resource, cal, backend), timing)
