"""Grouped convolutions as hls4ml 1.3 builds them: one rule for the export and the estimator.

hls4ml's ONNX Conv converter (``converters/onnx/convolution.py``) reads a ``group`` other than 1 only as a
depthwise convolution: ``depth_multiplier = group / n_chan`` must be an integer, and its DepthwiseConv1D/2D
kernels (``nnet_depthwise_product.h``) compute one output per input channel. Every other grouped convolution
-- ResNeXt-style (1 < groups < channels) or depthwise with a depth multiplier (more outputs than inputs) --
the export writes as an ordinary convolution whose weights are block-diagonal
(:func:`codesign.export.normalize.grouped_conv_to_dense`): the same function, the off-group weights exact
zeros. That is the layer hls4ml builds, so it is the one the dataflow template prices
(:func:`codesign.sim.estimate.hardware_network`): groups 1, C_in·C_out·K_h·K_w weights of which only the
grouped layer's are nonzero. Its reuse factors are then hls4ml's (n_in = C_in·K_h·K_w), its zeros are free
under the Latency strategy and take multiplier slots under Resource, as in the built design. The tiled
template (an accelerator of its own, not hls4ml) keeps the groups.
"""
from __future__ import annotations

from dataclasses import replace

from .layers import Layer, Network


def hls4ml_keeps_groups(groups: int, in_channels: int, out_channels: int) -> bool:
    """Whether hls4ml converts a convolution with these ``groups`` as it is: no groups, or depthwise with one
    output per input channel (see the module doc)."""
    return groups == 1 or groups == in_channels == out_channels


def as_hls4ml_builds(layer: Layer) -> Layer:
    """``layer`` as the export builds it: a grouped convolution hls4ml does not keep becomes the ordinary
    convolution with block-diagonal weights (the same nonzeros and shift-and-add counts, more zeros)."""
    if layer.op != "conv" or hls4ml_keeps_groups(layer.groups, layer.in_shape[0], layer.out_shape[0]):
        return layer
    dense = layer.weights * layer.groups          # each output reads all C_in channels instead of C_in / groups
    return replace(layer, groups=1, weights=dense)


def hls4ml_convs(net: Network) -> Network:
    """``net`` with every convolution as hls4ml builds it (:func:`as_hls4ml_builds`; ``net`` itself when none
    changes)."""
    layers = tuple(as_hls4ml_builds(layer) for layer in net.layers)
    if all(new is old for new, old in zip(layers, net.layers)):
        return net
    return Network(net.name, layers, net.input_shape, net.source, dict(net.meta))
