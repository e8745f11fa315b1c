"""codesign/sim/estimate.py: the network as the template builds it."""
from __future__ import annotations

from codesign.sim import Mapping, Network, estimate, load_device
from codesign.sim.estimate import flat_input, hardware_network


def _mlp(nets, in_shape):
    size = 1
    for d in in_shape:
        size *= d
    first = nets.dense("fc1", None, in_shape if len(in_shape) == 3 else size, 32)
    return Network("mlp", (first, nets.dense("fc2", "fc1", 32, 10)), tuple(in_shape))


def test_an_mlp_on_images_reads_its_input_as_one_vector_as_the_export_builds_it(nets):
    """The export drops the Flatten after the input (one vector port); under io_stream fc1 read one word per
    pixel in the estimate: 784 words, 4x the export's latency for a user's MLP on MNIST."""
    image, flat = _mlp(nets, (1, 28, 28)), _mlp(nets, (784,))
    built = hardware_network(image, Mapping(io_type="io_stream"))
    assert built.input_shape == (784,) and built.layers[0].in_shape == (784, 1, 1)
    device = load_device("xczu9eg")
    for io_type in ("io_stream", "io_parallel"):
        m = Mapping(io_type=io_type, reuse_factor=4)
        assert estimate(image, device, m).totals["latency_cycles"] == estimate(flat, device, m).totals["latency_cycles"]


def test_a_cnn_keeps_its_input(nets):
    cnn = nets.chain_cnn((4, 8), size=14)
    assert flat_input(cnn) is cnn
