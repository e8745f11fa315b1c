"""The io_stream project graph: hls4ml's padding layers and clones, and one FIFO per stream."""
import pytest

from codesign.errors import CodesignError
from codesign.sim import Layer, Network
from codesign.sim.stream_graph import conv_padding, stream_graph, stream_network


def _conv(name, inp, cin, h, cout, k, s, out):
    w = cout * cin * k * k
    return Layer(name, "conv", (inp,) if inp else (), (cin, h, h), (cout, out, out), (k, k), (s, s), 1, w, w)


def _residual(w=8):
    """relu -> [conv3x3 'same' -> relu -> conv3x3 'same'] + relu -> stride-2 conv3x3 (PyTorch padding 1)."""
    return Network("res", (
        Layer("relu", "act", (), (2, w, w), (2, w, w)),
        _conv("conv1", "relu", 2, w, 2, 3, 1, w),
        Layer("relu1", "act", ("conv1",), (2, w, w), (2, w, w)),
        _conv("conv2", "relu1", 2, w, 2, 3, 1, w),
        Layer("add", "add", ("relu", "conv2"), (2, w, w), (2, w, w)),
        _conv("down", "add", 2, w, 4, 3, 2, w // 2),
    ), (2, w, w))


def test_padding_layer_before_every_padded_conv():
    sn = stream_network(_residual(8))
    names = [l.name for l in sn.network.layers]
    assert names == ["relu", "zp2d_conv1", "conv1", "relu1", "zp2d_conv2", "conv2", "add", "zp2d_down", "down"]
    zp = sn.network.layers[1]
    assert zp.op == "pad" and zp.in_shape == (2, 8, 8) and zp.out_shape == (2, 10, 10)
    assert sn.network.layers[2].in_shape == (2, 10, 10) and sn.network.layers[2].inputs == ("zp2d_conv1",)
    # PyTorch pads a stride-2 3x3 conv 1+1 although 1 row would do: 10x10, as the ONNX export says
    assert sn.network.layers[7].out_shape == (2, 10, 10)
    assert list(sn.origin) == [0, -1, 1, 2, -1, 3, 4, -1, 5]
    again = stream_network(sn.network)                     # idempotent: padded convs need nothing more
    assert [l.name for l in again.network.layers] == names


def test_padding_split():
    assert conv_padding(_conv("c", None, 1, 32, 1, 3, 1, 32)) == (1, 1, 1, 1)
    assert conv_padding(_conv("c", None, 1, 32, 1, 3, 2, 16)) == (1, 1, 1, 1)     # PyTorch padding=1
    assert conv_padding(_conv("c", None, 1, 32, 1, 4, 1, 32)) == (1, 2, 1, 2)     # Keras 'same', even kernel
    assert conv_padding(_conv("c", None, 1, 32, 1, 4, 4, 8)) == (0, 0, 0, 0)      # needs none
    assert conv_padding(_conv("c", None, 1, 32, 1, 3, 1, 30)) == (0, 0, 0, 0)     # 'valid'


def test_padded_pooling_is_refused_under_io_stream():
    pool = Layer("pool", "maxpool", (), (4, 16, 16), (4, 8, 8), (3, 3), (2, 2))      # PyTorch padding=1
    with pytest.raises(CodesignError, match="'pool': hls4ml's io_stream pooling takes no padding"):
        stream_network(Network("p", (pool,), (4, 16, 16)))


def test_clone_and_fifos_of_a_residual_block():
    g = stream_graph(stream_network(_residual(8)).network)
    names = [f.name for f in g.fifos]
    assert names == ["input", "relu", "relu_cpy1", "relu_cpy2", "zp2d_conv1", "conv1", "relu1", "zp2d_conv2",
                     "conv2", "add", "zp2d_down", "down"]
    clone = next(p for p in g.processes if p.kind == "clone")
    assert clone.name == "clone_relu" and [g.fifos[f].name for f in clone.outputs] == ["relu_cpy1", "relu_cpy2"]
    add = next(p for p in g.processes if p.name == "add")
    assert [g.fifos[f].name for f in add.inputs] == ["relu_cpy2", "conv2"]       # the layer's input order
    assert [g.fifos[i].name for i in g.internal()] == names[1:-1]               # ports are not sized
    assert g.fifos[names.index("zp2d_conv1")].words == 100 and g.fifos[names.index("down")].words == 16


def test_names_and_default_depths_are_hls4mls():
    """hls4ml 1.3.0 builds the same streams with the same names; its default depth is the stream's length,
    and a depth is set per stream through the output variable's pragma (there is no config key)."""
    hls4ml = pytest.importorskip("hls4ml")
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv0, self.relu0 = nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()
            self.conv1, self.relu1 = nn.Conv2d(4, 4, 3, padding=1), nn.ReLU()
            self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
            self.down = nn.Conv2d(4, 6, 3, stride=2, padding=1)
            self.fc = nn.Linear(96, 5)

        def forward(self, x):
            x = self.relu0(self.conv0(x))
            x = x + self.conv2(self.relu1(self.conv1(x)))
            return self.fc(torch.flatten(self.down(x), 1))

    from codesign.sim import network_from_model

    model = Block().eval()
    cfg = hls4ml.utils.config_from_pytorch_model(model, input_shape=(3, 8, 8), granularity="name", backend="Vitis")
    hls = hls4ml.converters.convert_from_pytorch_model(model, hls_config=cfg, backend="Vitis", io_type="io_stream")
    theirs = {name: int(var.pragma[1]) for name, var in hls.output_vars.items()
              if var.pragma and not name.startswith("transpose_")}          # the PyTorch frontend's NCHW->NHWC
    g = stream_graph(stream_network(network_from_model(model, (3, 8, 8))).network)
    ours = {f.name: f.words for f in g.fifos if f.layer >= 0}
    assert ours == {k: v for k, v in theirs.items() if k != "x"}
    var = hls.output_vars["relu0_cpy2"]
    var.pragma = ("stream", 17)                      # what FifoDepths.by_name() feeds, before write()
    assert hls.output_vars["relu0_cpy2"].pragma == ("stream", 17)


def test_overlapping_2d_pooling_is_refused_under_io_stream_and_1d_is_not():
    """hls4ml's pooling2d_cl asserts stride == window (C simulation died on it); its 1-D line-buffer kernel steps
    by its stride (a Conv1d net's MaxPool1d(3, 2) simulates correctly)."""
    pool = Layer("pool", "maxpool", (), (4, 13, 13), (4, 6, 6), (3, 3), (2, 2))      # MaxPool2d(3, stride=2)
    with pytest.raises(CodesignError, match=r"'pool': hls4ml's io_stream 2-D pooling needs a stride equal to its "
                                            r"window .* window 3x3 and stride 2x2; use --io-type io_parallel"):
        stream_network(Network("p", (pool,), (4, 13, 13)))
    skip = Layer("pool", "avgpool", (), (4, 12, 12), (4, 4, 4), (2, 2), (3, 3))      # windows that skip pixels
    with pytest.raises(CodesignError, match="window 2x2 and stride 3x3"):
        stream_network(Network("p", (skip,), (4, 12, 12)))
    one_d = Layer("pool", "maxpool", (), (4, 1, 30), (4, 1, 14), (1, 3), (1, 2))     # MaxPool1d(3, stride=2)
    assert stream_network(Network("p", (one_d,), (4, 1, 30))).network.layers == (one_d,)
