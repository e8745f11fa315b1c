"""Small hand-built networks for the simulator tests (no torch needed)."""
from __future__ import annotations

from typing import Optional, Sequence

import pytest

from codesign.sim import Layer, Network


def conv(name: str, inp: Optional[str], cin: int, h: int, cout: int, k: int = 3, s: int = 1, pad: int = 0,
         nonzero: Optional[int] = None, groups: int = 1) -> Layer:
    out = (h + 2 * pad - k) // s + 1
    w = cout * cin // groups * k * k
    return Layer(name, "conv", (inp,) if inp else (), (cin, h, h), (cout, out, out), (k, k), (s, s), groups, w,
                 w if nonzero is None else nonzero)


def dense(name: str, inp: Optional[str], n_in, n_out: int, nonzero: Optional[int] = None) -> Layer:
    shape = n_in if isinstance(n_in, tuple) else (n_in, 1, 1)
    w = shape[0] * shape[1] * shape[2] * n_out
    return Layer(name, "dense", (inp,) if inp else (), shape, (n_out, 1, 1), weights=w,
                 nonzero_weights=w if nonzero is None else nonzero)


def simple(name: str, op: str, inputs: Sequence[str], shape, out=None, k: int = 1) -> Layer:
    return Layer(name, op, tuple(inputs), tuple(shape), tuple(out or shape), (k, k), (k, k))


def chain_cnn(widths=(4, 8), size: int = 30, classes: int = 10, zeros: float = 0.0, name: str = "chain") -> Network:
    """conv3x3 -> relu -> maxpool2 per width, then a dense classifier; ``zeros`` of every weight tensor are 0."""
    layers, prev, c, h = [], None, 1, size
    for i, w in enumerate(widths):
        n = w * c * 9
        layers.append(conv(f"conv{i}", prev, c, h, w, nonzero=n - int(n * zeros)))
        h -= 2
        layers.append(simple(f"relu{i}", "act", [f"conv{i}"], (w, h, h)))
        layers.append(simple(f"pool{i}", "maxpool", [f"relu{i}"], (w, h, h), (w, h // 2, h // 2), k=2))
        prev, c, h = f"pool{i}", w, h // 2
    n = c * h * h * classes
    layers.append(dense("fc", prev, (c, h, h), classes, nonzero=n - int(n * zeros)))
    return Network(name, tuple(layers), (1, size, size))


@pytest.fixture
def nets():
    """Namespace of network builders: conv, dense, simple, chain_cnn."""
    import types
    return types.SimpleNamespace(conv=conv, dense=dense, simple=simple, chain_cnn=chain_cnn)


def stream_chain(*profiles):
    """A hand-built io_stream pipeline: process i feeds process i+1 through FIFO i (every FIFO is sized; the
    last one is the output port). ``profiles``: one :class:`~codesign.sim.stream_timing.RateProfile` each."""
    from codesign.sim.stream_graph import Fifo, Process, StreamGraph

    procs, fifos = [], []
    for i, p in enumerate(profiles):
        procs.append(Process(f"p{i}", "source" if i == 0 else "layer", i, (i - 1,) if i else (), (i,)))
        fifos.append(Fifo(f"p{i}", i, i + 1 if i + 1 < len(profiles) else -1, len(p.write_iter), 1, i))
    return StreamGraph(None, tuple(procs), tuple(fifos))


@pytest.fixture
def chain():
    return stream_chain
