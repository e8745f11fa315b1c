"""The event-level simulation of the stream pipeline with bounded FIFOs."""
import numpy as np
import pytest

from codesign.sim import Layer, Network, references
from codesign.sim.stream_events import INF, _fire_all, simulate
from codesign.sim.stream_graph import stream_graph, stream_network
from codesign.sim.stream_schedule import repeat_calls, stream_schedule
from codesign.sim.stream_timing import StreamCal, process_profiles, rate_profile, uniform_profile

CAL = StreamCal()


def _graph(net, rf=1, resource=False):
    g = stream_graph(stream_network(net).network)
    n = len(g.network)
    return g, process_profiles(g, np.full(n, rf), np.full(n, resource), CAL)


def _residual(w=6):
    wts = 2 * 2 * 9
    return Network("res", (
        Layer("relu", "act", (), (2, w, w), (2, w, w)),
        Layer("conv", "conv", ("relu",), (2, w, w), (2, w, w), (3, 3), (1, 1), 1, wts, wts),
        Layer("pool", "maxpool", ("relu",), (2, w, w), (2, w // 2, w // 2), (2, 2), (2, 2)),
        Layer("add", "add", ("relu", "conv"), (2, w, w), (2, w, w)),
    ), (2, w, w))


@pytest.mark.parametrize("net", [references.svhn_cnn(), _residual()], ids=["svhn", "residual"])
def test_unbounded_fifos_give_the_free_running_schedule(net):
    g, profiles = _graph(net)
    assert np.array_equal(simulate(g, profiles, None, 3, CAL).call_end,
                          stream_schedule(g, profiles, 3, CAL).call_end())


@pytest.mark.parametrize("seed", range(6))
def test_passes_and_firing_agree(chain, seed):
    """The fast whole-process passes and the exact word-by-word firing find the same times."""
    rng = np.random.default_rng(seed)
    n = 24
    profiles = [uniform_profile(n, 1, 0, reads=False)]
    for _ in range(3):
        cost = rng.integers(1, 6, n).astype(float)
        writes = np.sort(rng.choice(n, n // 2, replace=False))
        profiles.append(rate_profile(cost, np.ones(n, bool), writes, rng.integers(0, 4, n // 2).astype(float)))
        n //= 2
    g = chain(*profiles)
    depths = np.append(rng.integers(1, 5, len(profiles) - 1), 0)
    reps = [repeat_calls(p, 2) for p in profiles]
    exact = _fire_all(g, reps, np.where(depths > 0, depths, INF), np.array([1.0, 1, 1, 0]), 2)
    fast = simulate(g, profiles, depths, 2, CAL)
    assert not exact.deadlock and np.array_equal(fast.call_end, exact.call_end)
    assert all(np.array_equal(a, b) for a, b in zip(fast.starts, exact.starts))


def test_backpressure_on_a_fast_producer_is_a_harmless_stall(chain):
    profiles = [uniform_profile(32, 1, 0, reads=False), uniform_profile(32, 1, 1), uniform_profile(32, 4, 1)]
    g = chain(*profiles)
    free = simulate(g, profiles, None, 2, CAL)
    tight = simulate(g, profiles, np.array([1, 1, 0]), 2, CAL)
    assert tight.stalls[1] > 0 and tight.stall_cycles[1] > 0          # the producer waits for room ...
    assert np.array_equal(tight.call_end, free.call_end)              # ... and the pipeline loses nothing
    assert tight.max_fill[1] == 1 and free.max_fill[1] > 16


def test_deadlock_names_the_full_and_the_starved_stream():
    g, profiles = _graph(_residual(6))
    depths = np.array([0 if f.external else 10 ** 6 for f in g.fifos])
    depths[[f.name for f in g.fifos].index("relu_cpy3")] = 3
    result = simulate(g, profiles, depths, 2, CAL)
    assert result.deadlock and np.all(np.isinf(result.call_end))
    assert "clone_relu: waits for room in relu_cpy3" in result.blocked
    assert any("waits for data on relu_cpy2" in b for b in result.blocked)
