"""``estimate(model, device, ...) -> Report``: the simulator's single entry point.

``model`` may be a :class:`Network`, a PyTorch module, a zoo model name, a model file (``.pt`` from
train/compact) or an ONNX file; ``device`` a :class:`Device`, a shipped name/alias or a YAML path.
"""
from __future__ import annotations

import inspect
import math
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence, Union

from ..errors import CodesignError
from .costs import Costs
from .dataflow import dataflow_costs
from .device import Device, load_device
from .energy import energy
from .layers import Network
from .mapping import Mapping
from .report import Report
from .tiled import tiled_costs

ModelLike = Union[Network, "object", str, Path]


def zoo_network(name: str, width: float = 1.0, in_shape: Optional[Sequence[int]] = None,
                num_classes: Optional[int] = None) -> Network:
    """A zoo model at its native input shape and class count (or the ones given)."""
    from ..catalog import cached_network

    cached = cached_network(name, width, in_shape, num_classes)   # no torch for the zoo's defaults
    if cached is not None:
        return cached
    from ..zoo import MODELS, create_model
    from .torch_layers import network_from_model

    params = inspect.signature(MODELS.get(name)).parameters
    shape = tuple(in_shape or params["in_shape"].default)
    classes = num_classes or params["num_classes"].default
    model = create_model(name, width=width, in_shape=shape, num_classes=classes)
    return network_from_model(model, shape, source=f"zoo:{name}" + (f"@width={width:g}" if width != 1 else ""))


def load_network(model: ModelLike, width: float = 1.0, in_shape: Optional[Sequence[int]] = None) -> Network:
    """Any model-like thing as a :class:`Network` (see the module doc)."""
    if isinstance(model, Network):
        return model
    if isinstance(model, (str, Path)):
        path = Path(model)
        if path.suffix == ".onnx":
            from .onnx_layers import network_from_onnx
            try:
                return network_from_onnx(path)
            except CodesignError as err:     # shape arithmetic (x.view(x.size(0), -1)) and other forms
                return _normalised_onnx(path, err)
        if path.suffix in (".pt", ".pth"):
            from ..checkpoint import load_model
            module, _meta = load_model(path)
            return module_network(module, in_shape, source=f"checkpoint:{path}")
        if path.exists():
            raise CodesignError(f"{path}: unknown model file type '{path.suffix}'; use a .onnx or a .pt model file")
        return zoo_network(str(model), width, in_shape)
    import torch.nn as nn

    if isinstance(model, nn.Module):
        return module_network(model, in_shape)
    raise CodesignError(f"cannot simulate a {type(model).__name__}; give a Network, nn.Module, zoo name, "
                        f".pt or .onnx file")


def hardware_network(net: Network, mapping: Mapping) -> Network:
    """``net`` as the template builds it. Dataflow: every grouped convolution hls4ml does not convert as it is
    becomes the ordinary one with block-diagonal weights the export writes
    (:func:`~codesign.sim.grouped_convs.hls4ml_convs`), and under io_stream hls4ml's ZeroPadding layer comes
    before every padded convolution (:func:`~codesign.sim.stream_graph.stream_network`)."""
    if mapping.template != "dataflow":
        return net
    from .grouped_convs import hls4ml_convs

    net = hls4ml_convs(flat_input(net))
    if mapping.resolved_io_type(net) == "io_stream":
        from .stream_graph import stream_network
        return stream_network(net).network
    return net


def flat_input(net: Network) -> Network:
    """``net`` with a flat input where its input feeds one Dense layer alone (an MLP on images), as the export
    builds it (:func:`codesign.export.passes.flatten_graph_input`: the Flatten goes, the input port is one
    vector): under io_stream that Dense reads one stream word, not one per pixel."""
    readers = [i for i, layer in enumerate(net.layers) if not layer.inputs]
    size = math.prod(net.input_shape)
    if len(readers) != 1 or net.layers[readers[0]].op != "dense" or size in net.input_shape:
        return net
    i = readers[0]
    layers = list(net.layers)
    layers[i] = replace(layers[i], in_shape=(size, 1, 1))
    return Network(net.name, tuple(layers), (size,), net.source, dict(net.meta))


def module_network(model, in_shape: Optional[Sequence[int]] = None, source: Optional[str] = None) -> Network:
    """The network of a PyTorch module: traced by torch.fx, or where the tracer does not map an op
    (functional pooling and clamps in users' models), read from the module's ONNX export."""
    from .torch_layers import network_from_model

    try:
        return network_from_model(model, in_shape, source=source, weight_values=True)
    except CodesignError as err:
        return _through_onnx(model, in_shape, err, source)


def _through_onnx(model, in_shape: Optional[Sequence[int]], err: CodesignError, source: Optional[str] = None
                  ) -> Network:
    """The network of a PyTorch model read from its ONNX export (any op the ONNX reader maps, e.g.
    functional pooling and clamps in users' models); ``err`` is raised when that fails too."""
    import tempfile

    from ..export.onnx import to_onnx_proto
    from ..export.passes import normal_graph, readable_names
    from .onnx_layers import network_from_onnx

    spec = getattr(model, "codesign_spec", None) or {}
    shape = in_shape or spec.get("in_shape")
    if not shape:
        raise err
    try:
        graph = normal_graph(to_onnx_proto(model, tuple(shape)))
        graph.require_shapes()
        readable_names(graph)                      # layers named as the export names them ('stem', 'b1')
        proto = graph.to_model()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.onnx"
            path.write_bytes(proto.SerializeToString())
            net = network_from_onnx(path, name=spec.get("name") or type(model).__name__)
    except Exception:  # tracing a model the fx tracer rejected can fail in any way: report the first error
        raise err from None
    return Network(net.name, net.layers, net.input_shape, f"{source or 'torch'} (through ONNX)", net.meta)


def _normalised_onnx(path: Path, err: CodesignError) -> Network:
    """The network of an ONNX file after codesign's normal forms (see codesign.export.normalize)."""
    import tempfile

    import onnx

    from ..export.passes import normal_graph
    from .onnx_layers import network_from_onnx

    try:
        graph = normal_graph(onnx.load(str(path)))
        graph.require_shapes()                     # never a network of guessed sizes
        proto = graph.to_model()
        with tempfile.TemporaryDirectory() as folder:
            normal = Path(folder) / path.name
            normal.write_bytes(proto.SerializeToString())
            net = network_from_onnx(normal)
    except Exception:  # the original error says what is wrong with the file
        raise err from None
    return Network(net.name, net.layers, net.input_shape, f"onnx:{path}", net.meta)


def template_costs(net: Network, device: Device, mapping: Mapping) -> Costs:
    if mapping.template == "dataflow":
        return dataflow_costs(net, device, mapping)
    return tiled_costs(net, device, mapping)


def estimate(model: ModelLike, device: "Device | str | Path", mapping: Optional[Mapping] = None, *,
             width: float = 1.0, in_shape: Optional[Sequence[int]] = None, example=None, **options) -> Report:
    """Latency, throughput, DRAM traffic, energy and resources of ``model`` on ``device``.

    ``mapping`` (a :class:`Mapping`) or keyword ``options`` choose the template and its settings:
    template='dataflow'|'tiled', reuse_factor, strategy, io_type, precision, clock_mhz, zero_skip, unroll.
    A PyTorch model's input shape: ``in_shape``, the shape of ``example`` inputs, or its record.
    """
    if example is not None and in_shape is None:       # example inputs (a batch) give the input shape
        in_shape = tuple(int(d) for d in example.shape[1:])
    dev = load_device(device)
    mapping = (mapping or Mapping()).with_(**options) if options else (mapping or Mapping())
    net = hardware_network(load_network(model, width, in_shape), mapping)
    costs = template_costs(net, dev, mapping)
    return Report(net, dev, mapping, costs, energy(costs, dev, mapping.precision))
