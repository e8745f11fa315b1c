"""io_stream FIFO depths from the DATAFLOW schedule, instead of hls4ml's full-length default.

hls4ml gives every stream a FIFO as deep as the stream is long (H·W words, ``fpga_types.py``
``StreamVariableConverter``) and can shrink them only by RTL co-simulation (``fifo_depth_optimization``:
profile at depth 100,000, then set the largest occupancy + 1). Here the depths come from the schedule:

1. the free-running schedule (:func:`~codesign.sim.stream_timing.stream_schedule`, unbounded FIFOs, two
   inferences back to back) fixes when the network's calls end -- its latency and interval;
2. the *just-in-time* schedule runs every process as late as it can without moving those ends: every
   iteration starts at the latest time its consumers still read its words when they did, and no process
   ends a call after the region ends it (a min-plus scan per process, in reverse topological order);
3. the *throttled* schedule feeds the input port just in time (its just-in-time writes) and runs every
   process as early as it can from there: nothing upstream of the slowest layer races ahead to fill a
   FIFO, nothing downstream waits longer than it must;
4. a FIFO's depth is its largest occupancy in the throttled schedule: the line-buffer fill of the
   consumer, the skew between the two branches of a residual Add/Concat (the clone feeds both branches at
   once; the short branch holds its words until the long one catches up) and bursty producer/consumer
   rates all show up as words waiting.

The throttled schedule lies between the free-running and the just-in-time one, so its calls end when the
free-running ones do, and it satisfies every constraint of a pipeline with those depths (a write waits
for the read D words earlier). The pipeline with blocking FIFOs runs no later than any schedule that
satisfies its constraints, so these depths keep the latency and the interval of the unbounded pipeline.
``mode='no_stall'`` gives instead the occupancy of the free-running schedule (what hls4ml's co-simulation
profile measures: no write ever waits). :mod:`codesign.sim.stream_events` checks either by simulation.

How a depth is set in hls4ml 1.3.0 (there is no configuration key for it): after conversion and before
``write()``, ``hls_model.output_vars[name].pragma = ('stream', depth)`` -- what
``backends/vivado/passes/fifo_depth_optimization.py::set_fifo_depth`` does; the writer emits
``#pragma HLS STREAM variable=<var> depth=<depth>``. ``name`` is the stream's name here: a layer's output
(its hls4ml layer name), ``zp2d_<conv>`` for the padding hls4ml inserts, ``<name>_cpyK`` for the K-th copy
of a cloned stream.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from ..errors import ConfigError
from .layers import Network
from .stream_graph import StreamGraph, stream_graph, stream_network
from .stream_schedule import Schedule, minplus_latest, stream_schedule
from .stream_timing import as_cal, process_profiles

MODES = ("interval", "no_stall")
MIN_DEPTH = 2


def occupancy(writes: np.ndarray, reads: np.ndarray) -> int:
    """Largest number of words a FIFO holds, counting the word being written: word j written at
    ``writes[j]`` finds ``j - (reads before it)`` words waiting (a read frees its slot the cycle after)."""
    if not len(writes):
        return 0
    freed = np.searchsorted(reads, writes, side="left")
    return int((np.arange(1, len(writes) + 1) - freed).max())


def latest_starts(sched: Schedule, cal=None) -> List[np.ndarray]:
    """The just-in-time schedule: per process, the latest iteration starts that keep every word read by
    its consumers no later than in ``sched`` and every call ending no later than the region's call end."""
    fifo_lat = as_cal(cal).fifo_latency
    graph = sched.graph
    region_end = sched.call_end()
    latest: List[Optional[np.ndarray]] = [None] * len(graph.processes)
    read_late: List[Optional[np.ndarray]] = [None] * len(graph.fifos)
    for p in range(len(graph.processes) - 1, -1, -1):
        proc, prof, single = graph.processes[p], sched.profiles[p], sched.single[p]
        deadline = np.full(len(prof.cost), np.inf)
        for f in proc.outputs:
            fifo = graph.fifos[f]
            due = sched.writes[f] if fifo.consumer < 0 else \
                read_late[f] - (0.0 if fifo.external else fifo_lat)
            np.minimum.at(deadline, prof.write_iter, due - prof.write_off)
        n = len(single.cost)
        last = np.arange(n - 1, len(prof.cost), n)
        deadline[last] = np.minimum(deadline[last], region_end - single.drain)
        u = minplus_latest(prof.cost, deadline)
        latest[p] = u
        read_it = np.flatnonzero(prof.reads)
        for f in proc.inputs:
            read_late[f] = u[read_it]
    return latest


def throttled_schedule(sched: Schedule, cal=None) -> Schedule:
    """``sched`` re-run with the input port writing just in time (see the module doc)."""
    latest = latest_starts(sched, cal)
    source = {p: latest[p] for p, proc in enumerate(sched.graph.processes) if proc.kind == "source"}
    return stream_schedule(sched.graph, sched.single, sched.calls, cal, not_before=source)


@dataclass(frozen=True)
class FifoDepths:
    """Depth per stream of ``graph`` (``graph.fifos`` order; the design's ports: 0)."""

    graph: StreamGraph
    depth: np.ndarray             # chosen depth (words)
    no_stall: np.ndarray          # largest occupancy of the free-running pipeline
    default: np.ndarray           # hls4ml's default: the stream's length
    latency_cycles: float
    interval_cycles: float
    mode: str

    def by_name(self) -> Dict[str, int]:
        """{stream name: depth} of every FIFO hls4ml sizes (see the module doc for the names)."""
        return {self.graph.fifos[i].name: int(self.depth[i]) for i in self.graph.internal()}

    def per_layer(self) -> np.ndarray:
        """Depth of each layer's own output FIFO, indexed like ``graph.network`` (0: a port or none);
        a cloned output's copies are separate streams (:meth:`by_name`)."""
        out = np.zeros(len(self.graph.network), dtype=np.int64)
        for i in self.graph.internal():
            f = self.graph.fifos[i]
            if f.name == self.graph.network.layers[f.layer].name:
                out[f.layer] = self.depth[i]
        return out


def _plan_arrays(network: Network, plan, stream_net):
    rf = np.asarray(getattr(plan, "rf"))
    resource = np.asarray(getattr(plan, "resource"))
    if len(rf) == len(stream_net.network):
        return rf, resource
    if len(rf) != len(network):
        raise ConfigError(f"plan has {len(rf)} layers, network '{network.name}' {len(network)}")
    return stream_net.take(rf, fill=1), stream_net.take(resource, fill=False)


def fifo_depths(network: Network, plan, cal=None, mode: str = "interval", calls: int = 2,
                min_depth: int = MIN_DEPTH) -> FifoDepths:
    """The depth of every io_stream FIFO of ``network`` built with ``plan`` (anything with per-layer
    ``rf`` and ``resource`` arrays, indexed like ``network`` or like its :func:`stream_network`).

    ``mode``: 'interval' -- the smallest depths this schedule proves keep the latency and interval;
    'no_stall' -- no write ever waits (the free-running occupancy). ``calls``: inferences back to back
    (2: the DATAFLOW region starts the next inference while the last drains, as its interval assumes; 1:
    one inference at a time, as a driver that waits for each result -- hls4ml's co-simulation profile
    through the accelerator wrapper). ``cal``: a device, its calibration or a
    :class:`~codesign.sim.stream_timing.StreamCal`. ``min_depth``: the smallest depth given (hls4ml's
    co-simulation sizing never goes below 2: its largest occupancy + 1).
    """
    if mode not in MODES:
        raise ConfigError(f"unknown FIFO depth mode '{mode}'; choose one of: {', '.join(MODES)}")
    sn = stream_network(network)
    rf, resource = _plan_arrays(network, plan, sn)
    graph = stream_graph(sn.network)
    profiles = process_profiles(graph, rf, resource, cal)
    sched = stream_schedule(graph, profiles, calls, cal)
    return depths_from_schedule(sched, cal, mode, min_depth)


def depths_from_schedule(sched: Schedule, cal=None, mode: str = "interval", min_depth: int = 1) -> FifoDepths:
    graph = sched.graph
    no_stall = np.zeros(len(graph.fifos), dtype=np.int64)
    depth = np.zeros(len(graph.fifos), dtype=np.int64)
    internal = graph.internal()
    for i in internal:
        no_stall[i] = occupancy(sched.writes[i], sched.reads[i])
    if mode == "interval":
        throttled = throttled_schedule(sched, cal)
        for i in internal:
            depth[i] = occupancy(throttled.writes[i], throttled.reads[i])
    else:
        depth[internal] = no_stall[internal]
    depth[internal] = np.maximum(depth[internal], min_depth)
    default = np.array([0 if f.external else f.words for f in graph.fifos], dtype=np.int64)
    return FifoDepths(graph, depth, no_stall, default, sched.latency, sched.interval, mode)
