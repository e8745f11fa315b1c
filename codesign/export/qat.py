"""Quantization-aware path: brevitas power-of-two quantizers, fine-tuning, QONNX, bit-exact csim.

``codesign export --qat-epochs N`` takes the model (checkpoint, embedded default or random init),
folds BatchNorm into the layer before it, replaces Conv/Linear/ReLU by brevitas layers with
power-of-two ("fixed point") scales — 8-bit weights (``Int8WeightPerTensorFixedPoint``), 8-bit
activations (``Int8ActPerTensorFixedPoint`` at the input, ``Uint8ActPerTensorFixedPoint`` after
each ReLU), 16-bit biases (``Int16Bias``) — fine-tunes it N epochs with the training loop, and
exports it with brevitas' QONNX exporter. hls4ml reads the Quant nodes as fixed-point types, so
the C simulation reproduces the quantized PyTorch model exactly. (brevitas' default float-scale
quantizers do not convert: hls4ml fails in its precision inference.)

Supported: feed-forward models (nn.Sequential) of Conv1d/Conv2d, Linear, ReLU, MaxPool,
BatchNorm (folded), Flatten, Dropout, Identity: lenet5, lenet300_100, jet_mlp. Residual networks
need quantized additions with matched scales and are not supported here.
"""
from __future__ import annotations

import copy
import io
import warnings
from collections import OrderedDict
from typing import Any, Dict, List, Tuple

import torch
import torch.nn as nn

from ..errors import ExportError
from ..events import Events
from ..procs import silenced_output

PASS_THROUGH = (nn.MaxPool1d, nn.MaxPool2d, nn.Flatten, nn.Dropout, nn.Identity)
BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def check_qat_supported(model: nn.Module) -> None:
    """One-line error, before any slow step, for models the QAT path cannot take."""
    if not isinstance(model, nn.Sequential):     # (it is not told whether the forward() has a residual branch)
        name = (getattr(model, "codesign_spec", None) or {}).get("name") or type(model).__name__
        raise ExportError(f"'{name}' ({type(model).__name__}) is not an nn.Sequential: the quantization-aware path "
                          f"takes models whose layers run one after another in an nn.Sequential, such as lenet5, "
                          f"lenet300_100 and jet_mlp; export it without --qat-epochs, or build it as an nn.Sequential")
    for name, module in model.named_children():
        if not isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear, nn.ReLU) + PASS_THROUGH + BATCHNORMS):
            raise ExportError(f"layer '{name}' ({type(module).__name__}) is not supported by the quantization-aware "
                              f"path; supported: Conv1d/Conv2d, Linear, ReLU, MaxPool, BatchNorm, Flatten, Dropout")
        if isinstance(module, BATCHNORMS) and not _follows_weighted(model, name):
            raise ExportError(f"layer '{name}': BatchNorm must follow a Conv or Linear layer to be folded")


def _follows_weighted(model: nn.Sequential, name: str) -> bool:
    names = [n for n, _ in model.named_children()]
    prev = dict(model.named_children())[names[names.index(name) - 1]] if names.index(name) else None
    return isinstance(prev, (nn.Conv1d, nn.Conv2d, nn.Linear))


def fold_batchnorm(layer: nn.Module, bn: nn.Module) -> Tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of ``layer`` followed by ``bn`` (eval statistics) as one layer."""
    scale = bn.weight.detach() / torch.sqrt(bn.running_var + bn.eps)
    shape = (-1,) + (1,) * (layer.weight.dim() - 1)
    bias = layer.bias.detach() if layer.bias is not None else torch.zeros_like(bn.running_mean)
    return layer.weight.detach() * scale.view(shape), (bias - bn.running_mean) * scale + bn.bias.detach()


def quantize_model(model: nn.Sequential) -> nn.Sequential:
    """A brevitas copy of ``model`` with power-of-two quantizers (module names kept)."""
    import brevitas.nn as qnn
    from brevitas.quant import (Int8ActPerTensorFixedPoint, Int8WeightPerTensorFixedPoint, Int16Bias,
                                Uint8ActPerTensorFixedPoint)

    check_qat_supported(model)
    children = list(model.named_children())
    last_weighted = max(i for i, (_, m) in enumerate(children) if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)))
    layers: List[Tuple[str, nn.Module]] = [("quant_input", qnn.QuantIdentity(
        act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True))]
    for i, (name, m) in enumerate(children):
        nxt = children[i + 1][1] if i + 1 < len(children) else None
        quant = dict(weight_quant=Int8WeightPerTensorFixedPoint, bias_quant=Int16Bias,
                     return_quant_tensor=i != last_weighted)
        if isinstance(m, (nn.Conv1d, nn.Conv2d)):
            cls = qnn.QuantConv2d if isinstance(m, nn.Conv2d) else qnn.QuantConv1d
            q = cls(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation, m.groups,
                    bias=True, **quant)
        elif isinstance(m, nn.Linear):
            q = qnn.QuantLinear(m.in_features, m.out_features, bias=True, **quant)
        elif isinstance(m, nn.ReLU):
            q = qnn.QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, return_quant_tensor=True)
        elif isinstance(m, BATCHNORMS):
            continue
        else:
            q = copy.deepcopy(m)
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            weight, bias = fold_batchnorm(m, nxt) if isinstance(nxt, BATCHNORMS) else (
                m.weight.detach(), m.bias.detach() if m.bias is not None else torch.zeros(q.weight.shape[0]))
            with torch.no_grad():
                q.weight.copy_(weight)
                q.bias.copy_(bias)
        layers.append((name, q))
    qmodel = nn.Sequential(OrderedDict(layers))
    qmodel.codesign_spec = dict(model.codesign_spec)
    return qmodel


def export_qonnx(qmodel: nn.Module, example: torch.Tensor):
    """brevitas → QONNX ModelProto (TorchScript exporter, which keeps module names)."""
    import onnx

    buf = io.BytesIO()
    qmodel.eval()
    with warnings.catch_warnings(), silenced_output(), torch.no_grad():
        warnings.simplefilter("ignore")
        from brevitas.export import export_qonnx as brevitas_export
        brevitas_export(qmodel, example[:1].float(), buf, dynamo=False, opset_version=17)
    return onnx.load_from_string(buf.getvalue())


def training_splits(samples, model: nn.Module, data_dir, seed: int):
    """The dataset's splits; for synthetic fallback inputs, labels are the float model's own
    predictions (fine-tuning then distils the float model into the quantized one)."""
    from ..data import DATASETS, Splits, load_dataset

    if samples.test_y is not None:
        return load_dataset(samples.dataset, data_dir, **samples.options)
    gen = torch.Generator().manual_seed(seed)
    x_train = torch.randn(4096, *samples.test_x.shape[1:], generator=gen)
    with torch.no_grad():
        y_train, y_test = model.eval()(x_train).argmax(1), model(samples.test_x).argmax(1)
    spec = DATASETS.get("synthetic")
    return Splits(spec, (x_train, y_train), (samples.test_x, y_test), None, tuple(x_train.shape[1:]),
                  int(model.codesign_spec["num_classes"]))


def fine_tune(qmodel: nn.Module, splits, epochs: int, seed: int, events: Events) -> Dict[str, Any]:
    """``epochs`` of SGD (lr 0.01, momentum 0.9, cosine) with the project's training loop."""
    from ..config import DataCfg, ModelCfg, OptimCfg, Recipe, TrainCfg
    from ..train import fit

    spec = qmodel.codesign_spec
    recipe = Recipe(name="qat", model=ModelCfg(name=spec.get("factory", spec["name"]), width=spec.get("width", 1.0),
                                               args=spec.get("kwargs", {})),
                    data=DataCfg(name=splits.spec.name), optim=OptimCfg(name="sgd", lr=0.01, weight_decay=0.0),
                    train=TrainCfg(epochs=epochs, batch_size=128, seed=seed))

    def relay(kind: str, payload: Dict[str, Any]) -> None:
        if kind == "epoch":
            events("stage", {"stage": f"qat epoch {payload['epoch']}: test_acc {payload.get('test_acc', 0):.4f}"})

    result = fit(recipe, None, splits=splits, model=qmodel, events=relay)
    qmodel.eval()
    return {"epochs": epochs, "test_acc": result.summary.get("test_acc"), "train_samples": len(splits.train[1])}


def quantization_aware(req, model: nn.Module, samples, settings, parts: Dict[str, Any], events: Events) -> Dict[str, Any]:
    """The pipeline's QAT branch: quantize, fine-tune, QONNX, hls4ml, csim against brevitas."""
    from .. import atomic
    from .csim import csim
    from .emulate import Emulator, batched
    from .hls import as_graph_input, build_hls
    from .passes import clean_graph
    from .precision import QUANTIZERS, PrecisionSpec
    from .report import FpgaContext, assemble_fpga_report

    qmodel = quantize_model(model)
    events("stage", {"stage": f"quantization-aware fine-tuning ({req.qat_epochs} epochs)"})
    parts["qat"] = {"quantizers": "brevitas Int8WeightPerTensorFixedPoint, Int8ActPerTensorFixedPoint (input), "
                                  "Uint8ActPerTensorFixedPoint (ReLU), Int16Bias",
                    **fine_tune(qmodel, training_splits(samples, model, req.data_dir, req.seed), req.qat_epochs,
                                req.seed, events)}
    events("stage", {"stage": "qonnx"})
    proto = export_qonnx(qmodel, samples.test_x)
    atomic.write_bytes(req.out / "model_qonnx.onnx", proto.SerializeToString())
    clean = clean_graph(proto)
    check = samples.test_x[:16].float()
    with torch.no_grad():
        emulated = batched(lambda x: Emulator(clean.graph, clean.fused_bias).run(x), as_graph_input(check, clean.input_layout))
        diff = float((emulated - qmodel(check)).abs().max()) if len(check) else 0.0
    parts["onnx"] = {"path": str(req.out / "model_qonnx.onnx"), "opset": 17, "format": "QONNX",
                     "max_abs_diff_vs_pytorch": diff, "checked_samples": len(check),
                     "checked_with": "codesign's QONNX evaluator (onnxruntime has no Quant op)"}
    if req.target == "onnx":
        atomic.write_json(req.out / "export.json", parts)
        return parts
    parts["samples"] = samples.summary()
    project = build_hls(proto, req.out / "hls", settings=settings, calibration=samples.calibration, events=events,
                        precision=PrecisionSpec(QUANTIZERS, source="quantizers (brevitas QAT)"))
    parts["hls"] = {k: v for k, v in project.summary().items() if k not in ("precision", "multipliers")}
    parts["precision"], parts["multipliers"] = project.precision.summary(), project.multipliers
    if req.target == "fpga":
        report = csim(project, samples.test_x, model=qmodel, labels=samples.test_y, jobs=req.jobs, events=events,
                      target_agreement=req.target_agreement)
        parts["csim"] = {**report.summary(), "reference": "the quantized (brevitas) PyTorch model",
                         "bit_exact": report.max_abs_error == 0.0}
        parts = assemble_fpga_report(parts, FpgaContext(qmodel, req.out, project, report, dict(parts)))
        atomic.write_json(req.out / "csim.json", parts)
    atomic.write_json(req.out / "export.json", parts)
    return parts
