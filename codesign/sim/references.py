"""Published design points the simulator is checked against (tests/sim, benchmarks/sim_validation.py).

Each reference gives the network exactly as published, the settings, the published numbers and where
they come from, with the confidence tags of docs/references.md#confidence-tags (V primary source, V2
secondary, D derived).
"""
from __future__ import annotations

from dataclasses import replace
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


def _unary(name: str, op: str, inp: str, shape, out=None, k: int = 1, activation: str = "") -> Layer:
    return Layer(name, op, (inp,), tuple(shape), tuple(out or shape), (k, k), (k, k), activation=activation)


def _relu(name: str, inp: str, shape) -> Layer:
    return _unary(name, "act", inp, shape, activation="relu")


def svhn_cnn() -> Network:
    """The tutorial's SVHN CNN: three conv(3x3)-ReLU-maxpool(2) blocks (16, 16, 24 filters), dense 42 and 64,
    a 10-way softmax; BatchNorm folded; 50% of every layer's weights pruned except the output layer's."""
    L = [_conv("conv_0", None, 3, 32, 16, 3, 1, 30, nonzero=216), _relu("act_0", "conv_0", (16, 30, 30)),
         _unary("pool_0", "maxpool", "act_0", (16, 30, 30), (16, 15, 15), 2),
         _conv("conv_1", "pool_0", 16, 15, 16, 3, 1, 13, nonzero=1152), _relu("act_1", "conv_1", (16, 13, 13)),
         _unary("pool_1", "maxpool", "act_1", (16, 13, 13), (16, 6, 6), 2),
         _conv("conv_2", "pool_1", 16, 6, 24, 3, 1, 4, nonzero=1728), _relu("act_2", "conv_2", (24, 4, 4)),
         _unary("pool_2", "maxpool", "act_2", (24, 4, 4), (24, 2, 2), 2),
         _dense("dense_0", "pool_2", (24, 2, 2), 42, nonzero=2016), _relu("act_3", "dense_0", (42, 1, 1)),
         _dense("dense_1", "act_3", (42, 1, 1), 64, nonzero=1344), _relu("act_4", "dense_1", (64, 1, 1)),
         _dense("output_dense", "act_4", (64, 1, 1), 10), _unary("softmax", "softmax", "output_dense", (10, 1, 1),
                                                                   activation="softmax")]
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


# --------------------------------------------------------------------------------------- hls4ml io_stream baselines

BASELINES_SOURCE = ("hls4ml's synthesis baselines, fastmachinelearning/hls4ml test/pytest/baselines (commit "
                    "ef92ebdf2fc6b9573170465ada2200bb782d1164), models of test/pytest/test_keras_api.py; Copyright "
                    "the hls4ml authors, Apache License 2.0. C-synthesis latency and interval (cycles), xcu250, 5 ns, "
                    "Latency strategy, reuse factor 1")
#: test id -> {tool: (latency, interval)}; the io_stream designs with more than one stream word.
STREAM_BASELINES: Dict[str, Dict[str, Tuple[int, int]]] = {
    "depthwise2d_io_stream": {"Vivado 2020.1": (1028, 1029), "Vitis 2024.1": (1028, 1029)},
    "depthwise1d_io_stream": {"Vivado 2020.1": (35, 36), "Vitis 2024.1": (35, 36)},
}
#: one-word io_stream designs (Dense(1 -> n) + activation): latency, interval
STREAM_BASELINES_ONE_WORD: Dict[str, Dict[str, Tuple[int, int]]] = {
    "dense_io_stream (1->2, ELU)": {"Vivado 2020.1": (3, 1), "Vitis 2023.1": (4, 4), "Vitis 2024.1": (4, 4)},
    "activations_io_stream-relu (1->64)": {"Vivado 2020.1": (2, 1), "Vitis 2023.1": (2, 2), "Vitis 2024.1": (2, 2)},
    "activations_io_stream-leaky_relu": {"Vivado 2020.1": (2, 1), "Vitis 2023.1": (2, 2), "Vitis 2024.1": (2, 2)},
    "activations_io_stream-prelu": {"Vivado 2020.1": (2, 1), "Vitis 2023.1": (2, 2), "Vitis 2024.1": (2, 2)},
    "activations_io_stream-elu": {"Vivado 2020.1": (3, 1), "Vitis 2023.1": (4, 4), "Vitis 2024.1": (4, 4)},
    "activations_io_stream-sigmoid": {"Vivado 2020.1": (4, 1), "Vitis 2023.1": (4, 4), "Vitis 2024.1": (4, 4)},
}


def depthwise2d_baseline() -> Network:
    """test_depthwise2d: DepthwiseConv2D(3x3) on 32x32x3, 'valid'."""
    return Network("depthwise2d", (_conv("depthwise", None, 3, 32, 3, 3, 1, 30, groups=3),), (3, 32, 32),
                   "reference:hls4ml-baseline-depthwise2d")


def depthwise1d_baseline() -> Network:
    """test_depthwise1d: DepthwiseConv1D(3) on 32 steps x 3 channels, 'valid' (1-D: height 1)."""
    w = 3 * 3
    return Network("depthwise1d", (Layer("depthwise", "conv", (), (3, 1, 32), (3, 1, 30), (1, 3), (1, 1), 3, w, w),),
                   (3, 1, 32), "reference:hls4ml-baseline-depthwise1d")


# --------------------------------------------------------------------------------------- MLPerf Tiny RN07 (board)

RN07_SOURCE = ("MLPerf Tiny v0.7 open submission hls4ml-finn (github.com/mlcommons/tiny_results_v0.7, "
               "open/hls4ml-finn): code/ic/RN07 (training/RN07.yml + resnet_v1_eembc.py: the model; "
               "inference/pynq-z2/accuracy_power.yml + convert.py: the hls4ml configuration; "
               "inference/max_depth_rf16384.json: the FIFO occupancies the build used; "
               "inference/pynq-z2/vivado_project/hdf/design_1_wrapper.hdf: the block design), "
               "results/pynq-z2/ic/RN07 (performance: 36.596 inferences/s; power: 44,190.54 uJ/inference "
               "median at 1.6165 W) [V]")
#: HLS target 6.67 ns (150 MHz); the block design clocks the HLS IP from the Zynq's FCLK_CLK0 at 100 MHz
#: (design_1_bd.tcl: PCW_FPGA0_PERIPHERAL_FREQMHZ 100, myproject_axi_0/ap_clk on FCLK_CLK0), so the board ran
#: the design at 100 MHz.
RN07_SETTINGS = {"device": "xc7z020", "part": "xc7z020clg400-1", "clock_mhz": 100, "hls_clock_mhz": 150,
                 "io_type": "io_stream", "strategy": "Resource", "reuse_factor": 16384,
                 "precision": "ap_fixed<12,7>", "board": "pynq-z2"}
RN07_PUBLISHED = {"latency_s": 1 / 36.596, "energy_j": 44.19054e-3, "power_w": 1.6165}
_RN07_CONVS = ("q_conv2d_batchnorm", "q_conv2d_batchnorm_1", "q_conv2d_batchnorm_2", "q_conv2d_batchnorm_3",
               "q_conv2d_batchnorm_4")
_RN07_CONV = {"Precision": {"weight": "ap_fixed<8,3>", "bias": "ap_fixed<8,3>", "accum": "ap_fixed<17,7>",
                            "result": "ap_fixed<9,3,AP_RND,AP_SAT>"}}
#: max_depth_rf16384.json: the largest occupancy hls4ml's co-simulation saw per FIFO (the build set max + 1);
#: hls4ml's numbering: layer4/7/10/13/16 = the convolutions' outputs, layer20..23 = the padding layers'.
RN07_FIFO_MAX = {"q_conv2d_batchnorm": 1, "zp2d_q_conv2d_batchnorm_1": 1066, "q_conv2d_batchnorm_1": 1,
                 "zp2d_q_conv2d_batchnorm_2": 71, "q_conv2d_batchnorm_2": 1, "zp2d_q_conv2d_batchnorm_3": 34,
                 "q_conv2d_batchnorm_3": 1, "zp2d_q_conv2d_batchnorm_4": 23, "q_conv2d_batchnorm_4": 1}
#: The published configuration in hls4ml's form (convert.py: every layer ReuseFactor 16384 and ap_fixed<12,7>,
#: then the yml's overrides; its ``accum_t`` is written as Precision.accum here; Backend VivadoAccelerator:
#: Vivado HLS). The design merged each ReLU into its convolution (``MergedRelu: 1``), so a convolution writes
#: the ReLU's result type ap_fixed<9,3,AP_RND,AP_SAT>; the dense layer keeps ap_fixed<12,7>. The softmax was
#: removed. FIFO depths: the build's (``FIFO_opt_json``: co-simulation maximum + 1).
def _mlperf_ic_config(fifo_max: Dict[str, int], reuse: Optional[Dict[str, int]] = None) -> Dict[str, object]:
    """The MLPerf Tiny hls4ml image classifiers' configuration (RN07, RN08): every Conv/Dense at ReuseFactor
    16384 unless ``reuse`` overrides it, the submissions' types, FIFO depths = co-simulation maximum + 1."""
    reuse = reuse or {}
    layers: Dict[str, dict] = {name: {"ReuseFactor": reuse.get(name, 16384), **_RN07_CONV} for name in _RN07_CONVS}
    layers["q_dense"] = {"ReuseFactor": reuse.get("q_dense", 16384),
                         "Precision": {"weight": "ap_fixed<8,3>", "bias": "ap_fixed<8,3>", "accum": "ap_fixed<17,7>",
                                       "result": "ap_fixed<12,7>"}}
    for name, occupancy in fifo_max.items():
        layers.setdefault(name, {})["FifoDepth"] = occupancy + 1
    return {"Backend": "VivadoAccelerator", "IOType": "io_stream",
            "Model": {"ReuseFactor": 16384, "Strategy": "Resource", "Precision": "ap_fixed<12,7>"},
            "LayerName": layers}


RN07_HLS_CONFIG = _mlperf_ic_config(RN07_FIFO_MAX)
#: The same submission on a Digilent Arty A7-100T (inference/arty-a7-100t/accuracy.yml: RN07's configuration
#: for the xc7a100tcsg324-1; its block design clocks the IP from the DDR3 controller's ui_clk, 83.33 MHz:
#: design_1_bd.tcl, myproject_axi/ap_clk on mig_7series_0/ui_clk, rst_mig_7series_0_83M);
#: results/arty-a7-100t/ic/RN07: 30.139 inferences/s, 73,166.299 uJ/inference median at 2.2216 W [V]
RN07_ARTY_SETTINGS = {**RN07_SETTINGS, "device": "xc7a100t", "part": "xc7a100tcsg324-1", "clock_mhz": 1000 / 12,
                      "board": "arty-a7-100t"}
RN07_ARTY_PUBLISHED = {"latency_s": 1 / 30.139, "energy_j": 73166.299e-6, "power_w": 2.221589}


def _pad(name: str, inp: str, c: int, h: int, padded: int) -> Layer:
    return Layer(name, "pad", (inp,), (c, h, h), (c, padded, padded))


def rn07() -> Network:
    """RN07 as built for the board (RN07.yml: filters 32, 4, 32, 32; kernels 1, 4, 4, 4, 4; strides '111',
    '414'; no skip connection, no pooling; 8x8x32 -> Dense(10)), with the ZeroPadding layers the build's
    hls4ml inserted before every 'same' convolution with a kernel > 1: 'same' 4x4 pads 1 top/left and 2
    bottom/right (35x35), the stride-4 conv needs no padding but got a (copying) padding layer all the same
    (its FIFO is in max_depth_rf16384.json)."""
    def conv(i, inp, cin, h, cout, k, s, out):
        name = _RN07_CONVS[i]
        return _conv(name, inp, cin, h, cout, k, s, out)

    c = _RN07_CONVS
    L = [conv(0, None, 3, 32, 32, 1, 1, 32),
         _pad("zp2d_" + c[1], c[0], 32, 32, 35), conv(1, "zp2d_" + c[1], 32, 35, 4, 4, 1, 32),
         _pad("zp2d_" + c[2], c[1], 4, 32, 35), conv(2, "zp2d_" + c[2], 4, 35, 32, 4, 1, 32),
         _pad("zp2d_" + c[3], c[2], 32, 32, 32), conv(3, "zp2d_" + c[3], 32, 32, 32, 4, 4, 8),
         _pad("zp2d_" + c[4], c[3], 32, 8, 11), conv(4, "zp2d_" + c[4], 32, 11, 32, 4, 1, 8),
         _dense("q_dense", c[4], (32, 8, 8), 10)]
    return Network("rn07", tuple(L), (3, 32, 32), "reference:mlperf-tiny-v0.7-hls4ml-rn07")


# --------------------------------------------------------------------------------------- MLPerf Tiny RN08 (board)

RN08_SOURCE = ("MLPerf Tiny v1.0 open submission hls4ml (github.com/mlcommons/tiny_results_v1.0, open/hls4ml): "
               "code/ic/RN08 (training/RN08.yml: the RN07 network; inference/pynq-z2/accuracy_power.yml: the hls4ml "
               "configuration; inference/max_depth_rf512-16384.json: the FIFO occupancies the build used; "
               "inference/pynq-z2/vivado_project/hdf/design_1_wrapper.hdf: FCLK_CLK0 at 100 MHz), "
               "results/pynq-z2/ic/RN08 (performance: 130.834 inferences/s; power: 12,266.036 uJ/inference median "
               "at 1.604 W) [V]")
RN08_SETTINGS = {**RN07_SETTINGS, "reuse_factor": 16384}
RN08_PUBLISHED = {"latency_s": 1 / 130.834, "energy_j": 12266.036e-6, "power_w": 1.604417}
#: max_depth_rf512-16384.json: layer20/21/22 = the padding layers before conv 1, 2 and 4 (no copy before the
#: stride-4 conv in this build), layer4..16 the convolutions' outputs
RN08_FIFO_MAX = {"q_conv2d_batchnorm": 1, "zp2d_q_conv2d_batchnorm_1": 912, "q_conv2d_batchnorm_1": 1,
                 "zp2d_q_conv2d_batchnorm_2": 71, "q_conv2d_batchnorm_2": 1, "q_conv2d_batchnorm_3": 1,
                 "zp2d_q_conv2d_batchnorm_4": 26, "q_conv2d_batchnorm_4": 1}
#: RN07's types and layers, ReuseFactor 16384 by default with RN08's overrides (convs 1-3: 512, conv 4: 4096)
RN08_REUSE = {"q_conv2d_batchnorm_1": 512, "q_conv2d_batchnorm_2": 512, "q_conv2d_batchnorm_3": 512,
              "q_conv2d_batchnorm_4": 4096}


RN08_HLS_CONFIG = _mlperf_ic_config(RN08_FIFO_MAX, RN08_REUSE)


def rn08() -> Network:
    """RN08 (MLPerf Tiny v1.0): RN07's network (RN08.yml has the same filters, kernels and strides) as that
    build's hls4ml made it: no copying padding layer before the stride-4 convolution (3 padding FIFOs in its
    max_depth file, RN07 had 4)."""
    net = rn07()
    copy = "zp2d_" + _RN07_CONVS[3]
    layers = tuple(replace(l, inputs=tuple(_RN07_CONVS[2] if i == copy else i for i in l.inputs))
                   for l in net.layers if l.name != copy)
    return Network("rn08", layers, net.input_shape, "reference:mlperf-tiny-v1.0-hls4ml-rn08")
