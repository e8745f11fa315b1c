"""Event-level simulation of the io_stream DATAFLOW pipeline with FIFOs of given depths.

Every process runs its rate profile (:mod:`codesign.sim.stream_timing`) iteration by iteration; an
iteration starts when the previous one allows it, when the words it reads have arrived (``fifo_latency``
cycles after they were written), and -- the bounded FIFOs -- when every word it writes finds room: word j
of a FIFO of depth D is written only after word j - D was read (a read frees its slot the cycle after).
A process blocked on a full FIFO stalls; if no process can go on while some still have work, the pipeline
is **deadlocked** (the classic case: a residual block whose short branch holds fewer words than the skew
between the branches -- the clone blocks on the full short branch, so the long branch starves).

The times are the least solution of these constraints, found by firing, process after process, every
iteration whose inputs and room are already known (vectorised in runs): exact, and as fast as the FIFOs
are deep. :func:`minimal_depths` searches the smallest depth of each FIFO that keeps every inference's end
(so the latency and the interval) of a reference run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from .stream_graph import StreamGraph
from .stream_schedule import maxplus_starts, repeat_calls
from .stream_timing import RateProfile, as_cal

INF = np.iinfo(np.int64).max // 4


@dataclass
class SimResult:
    deadlock: bool
    blocked: List[str]               # at a deadlock: 'process: waits for room in X' / 'waits for data on X'
    call_end: np.ndarray             # per inference: when the last process ends it (inf if never)
    stalls: np.ndarray               # per FIFO: writes that waited for room
    stall_cycles: np.ndarray         # per FIFO: cycles those writes waited beyond their other constraints
    max_fill: np.ndarray             # per FIFO: most words held
    starts: List[np.ndarray]
    later: bool = False              # cut short: some inference ends after the caller's bound

    @property
    def latency(self) -> float:
        return float(self.call_end[0])

    @property
    def interval(self) -> float:
        """Cycles between the ends of the last two inferences."""
        return float(self.call_end[-1] - self.call_end[-2]) if len(self.call_end) > 1 else float("nan")


@dataclass
class _Proc:
    prof: RateProfile
    read_it: np.ndarray       # iterations that read
    words_before: np.ndarray  # words written by iterations < i (length n + 1)
    pos: int = 0


def _room(fifo_reads: np.ndarray, n_words: int, depth: int, off: np.ndarray) -> np.ndarray:
    """Per word: the earliest start of its writing iteration that finds room (-inf: no constraint)."""
    room = np.full(n_words, -np.inf)
    if depth < n_words:
        room[depth:] = fifo_reads[:n_words - depth] + 1.0
    return room - off


def _call_ends(reps, starts, calls) -> np.ndarray:
    ends = np.full(calls, -np.inf)
    for rep, s in zip(reps, starts):
        n = len(rep.cost) // calls
        ends = np.maximum(ends, s[n - 1::n] + rep.drain)
    return ends


def _sweeps(graph: StreamGraph, reps: Sequence[RateProfile], depth: np.ndarray, lats: np.ndarray,
            max_passes: int, calls: int, stop_above: Optional[np.ndarray] = None):
    """The least solution by whole-process max-plus passes from the unbounded schedule upwards,
    alternating topological and reverse order. Every pass is a lower bound of the solution, so the run
    stops as soon as an inference ends after ``stop_above``. Returns (status, starts, writes, reads),
    status 'settled', 'later' (it passed ``stop_above``) or 'unsettled' (after ``max_passes``)."""
    nf = len(graph.fifos)
    writes: List[Optional[np.ndarray]] = [None] * nf
    reads: List[Optional[np.ndarray]] = [None] * nf
    starts: List[Optional[np.ndarray]] = [None] * len(reps)
    read_its = [np.flatnonzero(r.reads) for r in reps]
    order = list(range(len(reps)))
    bounded = [any(depth[f] < INF for f in proc.outputs) for proc in graph.processes]
    for step in range(max_passes):
        changed = False
        for p in (order if step % 2 == 0 else order[::-1]):
            proc, prof, rit = graph.processes[p], reps[p], read_its[p]
            earliest = np.full(len(prof.cost), -np.inf)
            for f in proc.inputs:
                if writes[f] is not None:
                    earliest[rit] = np.maximum(earliest[rit], writes[f] + lats[f])
            if step and bounded[p]:
                for f in proc.outputs:
                    if depth[f] < INF and reads[f] is not None:
                        room = _room(reads[f], len(prof.write_iter), int(depth[f]), prof.write_off)
                        np.maximum.at(earliest, prof.write_iter, room)
            s = maxplus_starts(prof.cost, earliest)
            if starts[p] is not None and np.array_equal(s, starts[p]):
                continue
            changed = True
            starts[p] = s
            w = s[prof.write_iter] + prof.write_off
            for f in proc.outputs:
                writes[f] = w
            for f in proc.inputs:
                reads[f] = s[rit]
        for i, f in enumerate(graph.fifos):
            if f.consumer < 0 and writes[i] is not None:
                reads[i] = writes[i] + lats[i]
        if not changed and step:
            return "settled", starts, writes, reads
        if stop_above is not None and np.any(_call_ends(reps, starts, calls) > stop_above):
            return "later", starts, writes, reads
    return "unsettled", starts, writes, reads


def simulate(graph: StreamGraph, profiles: Sequence[RateProfile], depths: Optional[np.ndarray] = None,
             calls: int = 2, cal=None, max_passes: int = 60, stop_above: Optional[np.ndarray] = None) -> SimResult:
    """Run ``calls`` inferences through ``graph`` with FIFO ``depths`` (per FIFO, words; None or a depth
    < 1: unbounded; the design's ports are never bounded).

    ``stop_above``: per inference, an end time the caller only needs to know is exceeded; a run that
    proves it is cut short (``SimResult.later``, call ends then lower bounds)."""
    fifo_lat = as_cal(cal).fifo_latency
    nf = len(graph.fifos)
    depth = np.full(nf, INF, dtype=np.int64)
    if depths is not None:
        given = np.asarray(depths, dtype=np.int64)
        internal = np.array([not f.external for f in graph.fifos])
        depth = np.where(internal & (given >= 1), given, INF)
    lats = np.array([0.0 if f.external else fifo_lat for f in graph.fifos])
    reps = [repeat_calls(prof, calls) for prof in profiles]
    status, starts, writes, reads = _sweeps(graph, reps, depth, lats, max_passes, calls, stop_above)
    if status == "unsettled":
        return _fire_all(graph, reps, depth, lats, calls)
    stalls, stall_cycles = _stall_stats(graph, reps, starts, writes, reads, depth, lats)
    result = _result(graph, reps, starts, writes, reads, calls, stalls, stall_cycles, [])
    result.later = status == "later"
    return result


def _stall_stats(graph, reps, starts, writes, reads, depth, lats):
    """Per FIFO: writes that waited for room, and the cycles they waited beyond their other constraints."""
    stalls = np.zeros(len(graph.fifos), dtype=np.int64)
    cycles = np.zeros(len(graph.fifos))
    for p, (proc, prof) in enumerate(zip(graph.processes, reps)):
        for f in proc.outputs:
            if depth[f] >= INF:
                continue
            s = starts[p]
            others = np.concatenate(([0.0], s[:-1] + prof.cost[:-1]))
            rit = np.flatnonzero(prof.reads)
            for g in proc.inputs:
                others[rit] = np.maximum(others[rit], writes[g] + lats[g])
            room = np.full(len(s), -np.inf)
            np.maximum.at(room, prof.write_iter, _room(reads[f], len(prof.write_iter), int(depth[f]),
                                                       prof.write_off))
            waited = room > others
            stalls[f] = int(waited.sum())
            cycles[f] = float((room - others)[waited].sum())
    return stalls, cycles


def _fire_all(graph: StreamGraph, reps, depth, lats, calls) -> SimResult:
    """The least solution by firing every iteration whose inputs and room are known, process after process
    (exact, and it stops where a deadlock stops the pipeline; slow when FIFOs are shallow)."""
    nf = len(graph.fifos)
    procs: List[_Proc] = []
    for rep in reps:
        n = len(rep.cost)
        procs.append(_Proc(rep, np.flatnonzero(rep.reads),
                           np.searchsorted(rep.write_iter, np.arange(n + 1), side="left")))
    starts = [np.full(len(p.prof.cost), np.nan) for p in procs]
    writes = [np.full(len(procs[f.producer].prof.write_iter), np.nan) for f in graph.fifos]
    n_written = np.zeros(nf, dtype=np.int64)
    reads: List[np.ndarray] = [np.full(len(w), np.nan) for w in writes]
    n_read = np.zeros(nf, dtype=np.int64)
    stalls = np.zeros(nf, dtype=np.int64)
    stall_cycles = np.zeros(nf)
    order = list(range(len(procs)))
    forward = True
    while True:
        progress = False
        for p in (order if forward else reversed(order)):
            if _fire(graph, p, procs[p], starts[p], writes, reads, n_written, n_read, depth, lats, stalls,
                     stall_cycles):
                progress = True
        forward = not forward
        if all(pr.pos == len(pr.prof.cost) for pr in procs):
            break
        if not progress:
            return _result(graph, reps, starts, writes, reads, calls, stalls, stall_cycles,
                           _blocked(graph, procs, n_written, n_read, depth))
        for i, f in enumerate(graph.fifos):          # the output port reads as soon as a word arrives
            if f.consumer < 0 and n_read[i] < n_written[i]:
                reads[i][n_read[i]:n_written[i]] = writes[i][n_read[i]:n_written[i]] + lats[i]
                n_read[i] = n_written[i]
    return _result(graph, reps, starts, writes, reads, calls, stalls, stall_cycles, [])


def _fire(graph, p, pr: _Proc, starts, writes, reads, n_written, n_read, depth, lats, stalls, stall_cycles) -> bool:
    """Schedule every iteration of process ``p`` whose inputs and room are known; True if any."""
    proc, prof = graph.processes[p], pr.prof
    n = len(prof.cost)
    i0 = pr.pos
    if i0 == n:
        return False
    i1 = n
    for f in proc.inputs:                      # the first iteration reading a word not yet written
        k = n_written[f]
        if k < len(pr.read_it):
            i1 = min(i1, int(pr.read_it[k]))
    for f in proc.outputs:                     # the first iteration writing a word without known room
        j = n_read[f] + depth[f] if depth[f] < INF else INF
        if j < len(prof.write_iter):
            i1 = min(i1, int(prof.write_iter[j]))
    if i1 <= i0:
        return False
    cost = prof.cost[i0:i1]
    earliest = np.full(i1 - i0, -np.inf)
    r0 = int(np.searchsorted(pr.read_it, i0))
    r1 = int(np.searchsorted(pr.read_it, i1))
    rit = pr.read_it[r0:r1] - i0
    for f in proc.inputs:
        earliest[rit] = np.maximum(earliest[rit], writes[f][r0:r1] + lats[f])
    w0, w1 = int(pr.words_before[i0]), int(pr.words_before[i1])
    wit = prof.write_iter[w0:w1] - i0
    off = prof.write_off[w0:w1]
    room = np.full(i1 - i0, -np.inf)
    for f in proc.outputs:
        if depth[f] >= INF:
            continue
        j = np.arange(w0, w1) - depth[f]
        ok = j >= 0
        if ok.any():
            np.maximum.at(room, wit[ok], reads[f][j[ok]] + 1.0 - off[ok])
    prev = starts[i0 - 1] + prof.cost[i0 - 1] if i0 else 0.0
    base = earliest.copy()
    base[0] = max(base[0], prev)
    c = np.concatenate(([0.0], np.cumsum(cost[:-1])))
    s = c + np.maximum.accumulate(np.maximum(base, room) - c)
    starts[i0:i1] = s
    pace = np.concatenate(([prev], s[:-1] + cost[:-1]))
    others = np.maximum(pace, earliest)
    waited = room > others
    if waited.any():
        for f in proc.outputs:
            stalls[f] += int(waited.sum())
            stall_cycles[f] += float((room - others)[waited].sum())
    w = s[wit] + off
    for f in proc.outputs:
        writes[f][w0:w1] = w
        n_written[f] = w1
    for f in proc.inputs:
        reads[f][r0:r1] = s[rit]
        n_read[f] = r1
    pr.pos = i1
    return True


def _blocked(graph, procs, n_written, n_read, depth) -> List[str]:
    out = []
    for p, (proc, pr) in enumerate(zip(graph.processes, procs)):
        if pr.pos == len(pr.prof.cost):
            continue
        need = [graph.fifos[f].name for f in proc.inputs
                if n_written[f] < len(pr.read_it) and pr.read_it[n_written[f]] <= pr.pos]
        full = [graph.fifos[f].name for f in proc.outputs
                if depth[f] < INF and n_read[f] + depth[f] < len(pr.prof.write_iter)
                and pr.prof.write_iter[n_read[f] + depth[f]] <= pr.pos]
        what = [f"waits for room in {x}" for x in full] + [f"waits for data on {x}" for x in need]
        out.append(f"{proc.name}: {', '.join(what) or 'waits'}")
    return out


def _result(graph, reps, starts, writes, reads, calls, stalls, stall_cycles, blocked) -> SimResult:
    ends = np.zeros((len(reps), calls))
    for p, rep in enumerate(reps):
        n = len(rep.cost) // calls
        last = starts[p][n - 1::n]
        ends[p] = np.where(np.isnan(last), np.inf, last + rep.drain)
    fill = np.zeros(len(graph.fifos), dtype=np.int64)
    for i in range(len(graph.fifos)):
        w, r = writes[i], reads[i]
        done = ~np.isnan(w)
        if done.any():
            rr = np.where(np.isnan(r), np.inf, r)
            freed = np.searchsorted(rr, w[done], side="left")
            fill[i] = int((np.arange(1, done.sum() + 1) - freed).max())
    return SimResult(bool(blocked), blocked, ends.max(axis=0), stalls, stall_cycles, fill, starts)


def keeps(result: SimResult, reference: SimResult, tolerance: float = 0.0) -> bool:
    """No deadlock and every inference ends no later than in ``reference`` (+ ``tolerance`` cycles)."""
    return not (result.deadlock or result.later) and bool(np.all(result.call_end <= reference.call_end + tolerance))


def minimal_depths(graph: StreamGraph, profiles: Sequence[RateProfile], start: np.ndarray, calls: int = 2,
                   cal=None, tolerance: float = 0.0, reference: Optional[SimResult] = None) -> np.ndarray:
    """The smallest depth of each FIFO (one after the other, keeping the earlier ones' reductions) with
    which the pipeline still ends every inference when ``reference`` does (default: unbounded FIFOs).
    A bisection per FIFO between 1 and its ``start`` depth: for small pipelines and checks."""
    reference = reference or simulate(graph, profiles, None, calls, cal)
    depths = np.asarray(start, dtype=np.int64).copy()
    bound = reference.call_end + tolerance

    def ok(d):
        return keeps(simulate(graph, profiles, d, calls, cal, stop_above=bound), reference, tolerance)

    if not ok(depths):
        raise ValueError("the start depths do not keep the reference timing")
    for i in graph.internal():
        lo, hi = 1, int(depths[i])
        while lo < hi:
            mid = (lo + hi) // 2
            depths[i] = mid
            if ok(depths):
                hi = mid
            else:
                lo = mid + 1
        depths[i] = hi
    return depths


def depth_report(graph: StreamGraph, depths: np.ndarray) -> Dict[str, int]:
    return {graph.fifos[i].name: int(depths[i]) for i in graph.internal()}
