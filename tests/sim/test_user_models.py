"""The estimator on models written in the tests (tests/user_models.py), both I/O types."""
from __future__ import annotations

import pytest
import torch.nn as nn

from codesign.sim import estimate, load_network, network_from_model
from codesign.sim.stream_graph import stream_graph, stream_network
from tests.user_models import USER_MODELS, build


@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
@pytest.mark.parametrize("name", sorted(USER_MODELS))
def test_every_user_model_is_estimated(name, io_type):
    model, shape = build(name)
    report = estimate(model, "xc7z020", in_shape=shape, io_type=io_type, precision="ap_fixed<16,6>")
    assert report.totals["latency_s"] > 0 and report.totals["dsp"] >= 0


def test_a_1d_signal_streams_one_word_of_channels_per_sample():
    model, shape = build("signal1d")                      # (channels, length) = (2, 16)
    graph = stream_graph(stream_network(load_network(model, in_shape=shape)).network)
    source = next(f for f in graph.fifos if f.layer == -1)
    assert (source.words, source.lanes) == (16, 2)


@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU, nn.RNN])
def test_a_recurrent_module_is_named_before_the_tensor_method_that_feeds_it(kind):
    from codesign.errors import CodesignError
    from tests.user_models import TransposedRecurrent

    with pytest.raises(CodesignError, match=rf"cannot simulate module 'rnn' \({kind.__name__}\)"):
        network_from_model(TransposedRecurrent(kind).eval(), (2, 12))


def test_a_users_factory_is_not_labelled_a_zoo_model(tmp_path):
    """report.json's model source: 'factory:nets.py:mlp' for a user's factory (it said 'zoo:nets.py:mlp')."""
    from codesign.model_source import build_model

    (tmp_path / "nets.py").write_text("import torch.nn as nn\n"
                                      "def mlp():\n    return nn.Sequential(nn.Linear(8, 4), nn.ReLU(), nn.Linear(4, 2))\n")
    model = build_model(f"{tmp_path / 'nets.py'}:mlp", in_shape=(8,))
    source = network_from_model(model, (8,)).source
    assert source.startswith("factory:") and source.endswith("nets.py:mlp")
    assert network_from_model(nn.Sequential(nn.Linear(8, 2)), (8,)).source == "torch"
