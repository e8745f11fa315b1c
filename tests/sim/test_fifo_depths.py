"""io_stream FIFO depths from the schedule, on pipelines whose smallest depths are known by hand."""
import types

import numpy as np
import pytest

from codesign.errors import ConfigError
from codesign.sim import Layer, Network, hls_rules, references
from codesign.sim.fifo_depths import depths_from_schedule, fifo_depths, occupancy
from codesign.sim.stream_events import minimal_depths, simulate
from codesign.sim.stream_graph import stream_graph, stream_network
from codesign.sim.stream_schedule import stream_schedule
from codesign.sim.stream_timing import StreamCal, process_profiles, rate_profile, uniform_profile

CAL = StreamCal()                 # FIFO latency 1: a word written at t is read at t + 1 at the earliest
N = 64


def _depths(graph, profiles, mode="interval"):
    return depths_from_schedule(stream_schedule(graph, profiles, 2, CAL), CAL, mode).depth


def _source():
    return uniform_profile(N, 1, 0, reads=False)


def test_occupancy_counts_the_word_being_written():
    assert occupancy(np.array([0., 1, 2]), np.array([0.5, 1.5, 2.5])) == 1
    assert occupancy(np.array([0., 1, 2]), np.array([1., 2, 3])) == 2      # read at t+1, slot free at t+2
    assert occupancy(np.array([0., 1, 2]), np.array([5., 6, 7])) == 3


def test_chain_at_one_word_per_cycle_needs_two_words(chain):
    """Word j is written at t and read at t+1, the slot frees at t+2: a 1-deep FIFO halves the rate."""
    profiles = [_source(), uniform_profile(N, 1, 1), uniform_profile(N, 1, 1)]
    g = chain(*profiles)
    depths = _depths(g, profiles)
    assert list(depths[:2]) == [2, 2]
    free = simulate(g, profiles, None, 2, CAL)
    assert list(minimal_depths(g, profiles, depths, 2, CAL)[:2]) == [2, 2]
    assert free.interval == N + 2
    assert simulate(g, profiles, np.array([1, 1, 0]), 2, CAL).interval == 2 * N + 1


@pytest.mark.parametrize("ii_a, ii_b", [(1, 4), (4, 1)])
def test_rate_mismatch_needs_one_word(chain, ii_a, ii_b):
    """A fast producer just waits for a slow consumer, a slow producer never lets words pile up: depth 1
    keeps the interval either way. The free-running occupancy (hls4ml's co-simulation profile) of the fast
    producer's FIFO grows to most of the stream instead."""
    profiles = [_source(), uniform_profile(N, ii_a, 1), uniform_profile(N, ii_b, 1)]
    g = chain(*profiles)
    assert list(_depths(g, profiles)[:2]) == [1, 1]
    assert list(minimal_depths(g, profiles, _depths(g, profiles), 2, CAL)[:2]) == [1, 1]
    no_stall = _depths(g, profiles, "no_stall")
    assert no_stall[0 if ii_a == 4 else 1] >= N * 3 // 2      # two inferences back to back, none read yet


def test_bursty_consumer_needs_three_words(chain):
    """A consumer that takes 4 words at a cycle each and then computes for 13 (16 cycles per 4 words) fed
    by a producer writing every 2 cycles: word 4k+2 must be written by the time 4k+1 is read, which a
    2-deep FIFO allows only after word 4k is read -- 3 words are needed, 2 lose cycles every group."""
    cost = np.tile([1, 1, 1, 13.0], N // 4)
    writes = np.arange(3, N, 4)
    burst = rate_profile(cost, np.ones(N, bool), writes, np.full(len(writes), 12.0))
    profiles = [_source(), uniform_profile(N, 2, 1), burst]
    g = chain(*profiles)
    assert _depths(g, profiles)[1] == 3
    assert minimal_depths(g, profiles, _depths(g, profiles), 2, CAL)[1] == 3
    free = simulate(g, profiles, None, 2, CAL).call_end
    assert np.all(simulate(g, profiles, np.array([1, 2, 0]), 2, CAL).call_end > free)


def _residual(w):
    """relu -> clone -> [zero padding -> conv3x3 'same'] + skip -> add."""
    wts = 2 * 2 * 9
    return Network("res", (
        Layer("relu", "act", (), (2, w, w), (2, w, w)),
        Layer("conv", "conv", ("relu",), (2, w, w), (2, w, w), (3, 3), (1, 1), 1, wts, wts),
        Layer("add", "add", ("relu", "conv"), (2, w, w), (2, w, w)),
    ), (2, w, w))


@pytest.mark.parametrize("w", [6, 8, 13])
def test_residual_skip_holds_the_skew(w):
    """The conv's first output needs input word w+1 (row 1, column 1), and the clone writes every word to
    both branches: until then the skip branch holds w+2 words the Add cannot take, so a skip FIFO of w+1
    words deadlocks and one of w+2 does not. The depth keeping the interval adds the branch's pipeline
    latency; the computed depth is the smallest the search finds."""
    g = stream_graph(stream_network(_residual(w)).network)
    n = len(g.network)
    profiles = process_profiles(g, np.ones(n, int), np.zeros(n, bool), CAL)
    skip = [f.name for f in g.fifos].index("relu_cpy2")
    depths = _depths(g, profiles)
    ample = np.where(depths > 0, 10 ** 6, 0)
    for d, dead in ((w + 1, True), (w + 2, False)):
        ample[skip] = d
        result = simulate(g, profiles, ample, 2, CAL)
        assert result.deadlock == dead
    assert "clone_relu: waits for room in relu_cpy2" in simulate(g, profiles, np.where(depths > 0, 1, 0), 2,
                                                                  CAL).blocked
    assert w + 2 < depths[skip] < 2 * (w + 2)
    smallest = minimal_depths(g, profiles, depths, 2, CAL)
    assert smallest[skip] == depths[skip] and np.all(smallest <= depths)
    assert np.array_equal(simulate(g, profiles, depths, 2, CAL).call_end, simulate(g, profiles, None, 2, CAL).call_end)


def test_fifo_depths_of_a_network():
    net = references.rn07()
    a = net.arrays
    rf = [hls_rules.closest_reuse_factor(int(i), int(o), 16384) if op in ("conv", "dense") else 1
          for op, i, o in zip(a.op, a.n_in, a.n_out)]
    plan = types.SimpleNamespace(rf=np.array(rf), resource=np.ones(len(net), bool))
    d = fifo_depths(net, plan, CAL)
    by_name = d.by_name()
    assert set(by_name) == set(references.RN07_FIFO_MAX)
    # as in the build's co-simulation profile, a convolution's output never waits: the floor of 2 words
    assert all(by_name[name] == 2 for name, seen in references.RN07_FIFO_MAX.items() if seen == 1)
    assert fifo_depths(net, plan, CAL, min_depth=1).by_name()["q_conv2d_batchnorm_1"] == 1
    # the fast first conv no longer runs a whole image ahead of the RF-2048 conv (co-simulation: 1,066 words)
    assert by_name["zp2d_q_conv2d_batchnorm_1"] == 3 * 35 + 3                  # its line buffer's fill
    assert d.per_layer()[1] == by_name["zp2d_q_conv2d_batchnorm_1"]
    g = d.graph
    profiles = process_profiles(g, plan.rf, plan.resource, CAL)
    checked = simulate(g, profiles, d.depth, 2, CAL)
    assert not checked.deadlock and np.array_equal(checked.call_end, simulate(g, profiles, None, 2, CAL).call_end)
    with pytest.raises(ConfigError, match="mode"):
        fifo_depths(net, plan, CAL, mode="fast")
    # one inference at a time, as the board's harness ran it: the free-running occupancy is the build's
    # co-simulation profile (max_depth_rf16384.json) within a word on every FIFO, 1,066 words included
    one = fifo_depths(net, plan, CAL, mode="no_stall", calls=1, min_depth=1).by_name()
    assert all(abs(one[name] - seen) <= 1 for name, seen in references.RN07_FIFO_MAX.items()), one
    assert fifo_depths(net, plan, CAL, calls=1).by_name()["zp2d_q_conv2d_batchnorm_1"] == 72
