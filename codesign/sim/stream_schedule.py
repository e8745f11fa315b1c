"""The DATAFLOW schedule of an io_stream design: every process (:mod:`codesign.sim.stream_graph`) runs its
rate profile (:mod:`codesign.sim.stream_timing`) word by word with unbounded FIFOs.

An iteration starts when the previous one allows (its cost) and when the words it reads have arrived
(``stream_fifo_latency_cycles`` after they were written; the design's ports deliver a word per cycle and
add no latency): s[i] = max(s[i-1] + cost[i-1], arrival[i]), a max-plus recurrence solved per process
with one running maximum, so the whole network costs a few numpy operations per process. The latency of
an inference is when its last process ends it (HLS's ``ap_done``), the interval the slowest process's.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import List, Mapping, Optional, Sequence

import numpy as np

from ..errors import CodesignError
from .stream_graph import StreamGraph
from .stream_timing import RateProfile, as_cal

@lru_cache(maxsize=8192)
def repeat_calls(profile: RateProfile, calls: int) -> RateProfile:
    """``calls`` back-to-back inferences: the next call starts a cycle after the previous one ended."""
    if calls == 1:
        return profile
    n = len(profile.cost)
    cost = profile.cost.copy()
    cost[-1] = profile.interval - profile.starts[-1]
    return RateProfile(np.tile(cost, calls), np.tile(profile.reads, calls),
                       (profile.write_iter[None, :] + n * np.arange(calls)[:, None]).ravel(),
                       np.tile(profile.write_off, calls), profile.drain)


def maxplus_starts(cost: np.ndarray, earliest: np.ndarray, starts: Optional[np.ndarray] = None) -> np.ndarray:
    """Iteration starts s with s[i] = max(s[i-1] + cost[i-1], earliest[i]), s[0] = max(0, earliest[0]);
    ``starts``: the cost's running sum when known (``RateProfile.starts``)."""
    c = np.concatenate(([0.0], np.cumsum(cost[:-1]))) if starts is None else starts
    e = earliest - c
    e[0] = max(e[0], 0.0)
    return c + np.maximum.accumulate(e)


def minplus_latest(cost: np.ndarray, deadline: np.ndarray) -> np.ndarray:
    """Latest starts u with u[i] = min(u[i+1] - cost[i], deadline[i])."""
    c = np.concatenate(([0.0], np.cumsum(cost[:-1])))
    return c + np.minimum.accumulate((deadline - c)[::-1])[::-1]


@dataclass
class Schedule:
    """Iteration starts per process and write/read times per FIFO of ``calls`` inferences."""

    graph: StreamGraph
    profiles: List[RateProfile]        # per process, repeated ``calls`` times
    starts: List[np.ndarray]
    writes: List[np.ndarray]           # per FIFO: write time of every word
    reads: List[np.ndarray]            # per FIFO: read time of every word (the port: write + latency)
    calls: int
    single: List[RateProfile]          # per process, one call

    def process_ends(self) -> np.ndarray:
        """(processes, calls): when each process ends each call."""
        out = np.zeros((len(self.single), self.calls))
        for p, (prof, s) in enumerate(zip(self.single, self.starts)):
            n = len(prof.cost)
            out[p] = s[n - 1::n] + prof.drain
        return out

    def call_end(self) -> np.ndarray:
        """End of each inference: when the last process ends its call (the DATAFLOW region's ap_done)."""
        return self.process_ends().max(axis=0)

    @property
    def latency(self) -> float:
        return float(self.call_end()[0])

    @property
    def interval(self) -> float:
        """Cycles between inferences: the slowest process's call (latency + 1), as HLS reports a DATAFLOW region."""
        return max(p.interval for p in self.single)


def stream_schedule(graph: StreamGraph, profiles: Sequence[RateProfile], calls: int = 1,
                    cal=None, not_before: Optional[Mapping[int, np.ndarray]] = None) -> Schedule:
    """The free-running DATAFLOW schedule (unbounded FIFOs) of ``calls`` inferences back to back.

    ``not_before``: {process index: earliest start of each of its iterations} (e.g. a throttled input)."""
    fifo_lat = as_cal(cal).fifo_latency
    lats = [0.0 if f.external else fifo_lat for f in graph.fifos]
    reps = [repeat_calls(p, calls) for p in profiles]
    nf = len(graph.fifos)
    writes: List[Optional[np.ndarray]] = [None] * nf
    reads: List[Optional[np.ndarray]] = [None] * nf
    starts: List[np.ndarray] = []
    for proc, prof in zip(graph.processes, reps):
        n = len(prof.cost)
        read_it = prof.read_iters
        every = len(read_it) == n
        earliest = None if every and proc.inputs else np.full(n, -np.inf)
        for f in proc.inputs:
            w = writes[f]
            if len(w) != len(read_it):
                raise CodesignError(f"stream '{graph.fifos[f].name}' carries {len(w) // calls} words per inference "
                                    f"but '{proc.name}' reads {len(read_it) // calls}")
            if earliest is None:
                earliest = w + lats[f]
            elif every:
                earliest = np.maximum(earliest, w + lats[f])
            else:
                earliest[read_it] = np.maximum(earliest[read_it], w + lats[f])
        if not_before and len(starts) in not_before:
            earliest = np.maximum(earliest, not_before[len(starts)])
        s = maxplus_starts(prof.cost, earliest, prof.starts)
        starts.append(s)
        for f in proc.inputs:
            reads[f] = s[read_it]
        w = s[prof.write_iter] + prof.write_off
        for f in proc.outputs:
            writes[f] = w
    for i, f in enumerate(graph.fifos):
        if reads[i] is None:                 # the output port reads as soon as it can
            reads[i] = writes[i] + lats[i]
    return Schedule(graph, reps, starts, writes, reads, calls, list(profiles))


