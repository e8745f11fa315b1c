"""Published design points the simulator is checked against (tests/sim, benchmarks/sim_validation.py).

Each reference gives the network exactly as published, the settings, the published numbers and where
they come from, with the confidence tags of docs/references.md#confidence-tags (V primary source, V2
secondary, D derived).
"""
from __future__ import annotations

from typing import Dict, Optional, Tuple

from .layers import Layer, Network

# --------------------------------------------------------------------------------------- hls4ml (dataflow)

SVHN_SOURCE = ("hls4ml tutorial part 6 (fastmachinelearning/hls4ml-tutorial): pruned_cnn_reference/myproject_prj/"
               "solution1/syn/report/myproject_csynth.rpt (Vivado HLS 2020.1) and pruned_cnn/vivado_synth.rpt "
               "(Vivado 2020.1 synthesis); model of Aarrestad et al. 2021, arXiv 2101.05108")
SVHN_SETTINGS = {"device": "xcu250", "clock_mhz": 200, "precision": "ap_fixed<16,6>", "io_type": "io_stream",
                 "strategy": "Latency", "reuse_factor": 1}
SVHN_PUBLISHED = {"latency_cycles": 1055, "interval_cycles": 1029, "dsp": 5864, "bram": 113, "lut": 129289,
                  "ff": 43298}


def _conv(name: str, inp: Optional[str], cin: int, h: int, cout: int, k: int, s: int, out: int, groups: int = 1,
          nonzero: Optional[int] = None) -> Layer:
    w = cout * cin // groups * k * k
    return Layer(name, "conv", (inp,) if inp else (), (cin, h, h), (cout, out, out), (k, k), (s, s), groups, w,
                 w if nonzero is None else nonzero)


def _dense(name: str, inp: str, in_shape: Tuple[int, int, int], n_out: int, nonzero: Optional[int] = None) -> Layer:
    w = in_shape[0] * in_shape[1] * in_shape[2] * n_out
    return Layer(name, "dense", (inp,), in_shape, (n_out, 1, 1), weights=w, nonzero_weights=w if nonzero is None
                 else nonzero)


def _unary(name: str, op: str, inp: str, shape, out=None, k: int = 1) -> Layer:
    return Layer(name, op, (inp,), tuple(shape), tuple(out or shape), (k, k), (k, k))


def svhn_cnn() -> Network:
    """The tutorial's SVHN CNN: three conv(3x3)-ReLU-maxpool(2) blocks (16, 16, 24 filters), dense 42 and 64,
    a 10-way softmax; BatchNorm folded; 50% of every layer's weights pruned except the output layer's."""
    L = [_conv("conv_0", None, 3, 32, 16, 3, 1, 30, nonzero=216), _unary("act_0", "act", "conv_0", (16, 30, 30)),
         _unary("pool_0", "maxpool", "act_0", (16, 30, 30), (16, 15, 15), 2),
         _conv("conv_1", "pool_0", 16, 15, 16, 3, 1, 13, nonzero=1152), _unary("act_1", "act", "conv_1", (16, 13, 13)),
         _unary("pool_1", "maxpool", "act_1", (16, 13, 13), (16, 6, 6), 2),
         _conv("conv_2", "pool_1", 16, 6, 24, 3, 1, 4, nonzero=1728), _unary("act_2", "act", "conv_2", (24, 4, 4)),
         _unary("pool_2", "maxpool", "act_2", (24, 4, 4), (24, 2, 2), 2),
         _dense("dense_0", "pool_2", (24, 2, 2), 42, nonzero=2016), _unary("act_3", "act", "dense_0", (42, 1, 1)),
         _dense("dense_1", "act_3", (42, 1, 1), 64, nonzero=1344), _unary("act_4", "act", "dense_1", (64, 1, 1)),
         _dense("output_dense", "act_4", (64, 1, 1), 10), _unary("softmax", "softmax", "output_dense", (10, 1, 1))]
    return Network("svhn_cnn", tuple(L), (3, 32, 32), "reference:hls4ml-tutorial-svhn")


# --------------------------------------------------------------------------------------- Zhang FPGA'15 (tiled)

ZHANG_SOURCE = ("Zhang et al., Optimizing FPGA-based accelerator design for deep convolutional neural networks, "
                "FPGA 2015, doi 10.1145/2684746.2689060: 61.62 GFLOPS at 100 MHz on a VC707, fp32, 2,240 DSPs "
                "[V2, secondary transcriptions]; unified (Tm, Tn) = (64, 7) [M; 64 x 7 = 448 = 2,240 / 5, D]")
ZHANG_SETTINGS = {"device": "xc7vx485t", "clock_mhz": 100, "precision": "float32", "unroll": "64,7,1,1"}
ZHANG_PUBLISHED = {"gflops": 61.62, "latency_s": 21.61e-3, "dsp": 2240}   # latency = 1.3316 GFLOP / 61.62 [D]


def alexnet_conv() -> Network:
    """AlexNet's five convolutions as Zhang FPGA'15 maps them (two groups in layers 2, 4 and 5)."""
    return Network("alexnet_conv", (
        _conv("conv1", None, 3, 227, 96, 11, 4, 55), _conv("conv2", "conv1", 96, 31, 256, 5, 1, 27, 2),
        _conv("conv3", "conv2", 256, 15, 384, 3, 1, 13), _conv("conv4", "conv3", 384, 15, 384, 3, 1, 13, 2),
        _conv("conv5", "conv4", 384, 15, 256, 3, 1, 13, 2)), (3, 227, 227), "reference:zhang-fpga15-alexnet")


# --------------------------------------------------------------------------------------- CGaP (tiled)

CGAP_SOURCE = ("Du, Li, Ma, Cao, Efficient Network Construction through Structural Plasticity, IEEE JETCAS 2019, "
               "arXiv 1905.11530, abstract [V]: ResNet-110 on CIFAR-10, -64.0% parameters, -63.3% FLOPs, "
               "-11.8% DRAM access energy, -40.2% inference latency (Ma et al.'s FPGA accelerator model)")
CGAP_PUBLISHED: Dict[str, float] = {"params": 0.640, "flops": 0.633, "dram_energy": 0.118, "latency": 0.402}
CGAP_SETTINGS = {"device": "10ax115", "precision": "ap_fixed<16,6>", "template": "tiled"}


def cgap_like_resnet110(keep: float = 0.36, width: float = 1.0):
    """A CGaP-like compact ResNet-110 (the real one is not public): ``keep`` of every residual block's inner
    channels (conv1's outputs; the residual streams, tied across each stage, stay whole) at ``width``."""
    import torch.nn as nn

    from ..zoo import create_model

    model = create_model("resnet110", width=width, in_shape=(3, 32, 32))
    for stage in model.layers:
        for block in stage:
            c_in, c = block.conv1.in_channels, block.conv1.out_channels
            k = max(1, round(c * keep))
            block.conv1 = nn.Conv2d(c_in, k, 3, block.conv1.stride, 1, bias=False)
            block.bn1 = nn.BatchNorm2d(k)
            block.conv2 = nn.Conv2d(k, c, 3, 1, 1, bias=False)
    return model
