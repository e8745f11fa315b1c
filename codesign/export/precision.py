"""Fixed-point precision for every hls4ml layer: chosen automatically from calibration ranges, or
one type for all, with per-layer overrides from YAML.

Automatic choice: integer bits per layer from the largest magnitude seen (weights and biases
from their values, layer results from calibration data; negative integer bits for small values,
unsigned types where a result is never negative), rounding RND_CONV (round half to even: no bias)
and saturation SAT (no wrap-around). Two widths are shared by all layers and searched by
bisection against the emulated top-1 agreement with the float model on the calibration data: the
total width of weights and biases, then the fractional bits of layer results. Accumulators are
left to hls4ml's lossless 'auto' inference.

``--precision`` takes the one precision syntax of every command (:mod:`codesign.fixed_point`):
``auto``, one type for every layer (``fixed<16,6,RND_CONV,SAT>``), ``WEIGHT/RESULT`` (weights and biases
take the first type, layer results the second), or a YAML file::

    default: auto                  # or any precision option above
    target_agreement: 0.999        # auto only
    layers:                        # per-layer overrides, PyTorch (fc1, layers.0.0.conv1) or hls4ml names
      fc1: {weight: "fixed<8,1,RND_CONV,SAT>", result: "fixed<12,5,RND_CONV,SAT>"}
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Tuple, Union

import torch
from pydantic import Field

from ..config import Strict, read_yaml, validate
from ..errors import ConfigError, close_matches
from ..fixed_point import FloatType, Precision, fixed_for_range, parse_fixed, parse_precision
from ..hls_names import find_layer, layer_keys, merge_by_layer
from ..target import DEFAULT_TARGET_AGREEMENT
from .emulate import Emulator, LayerTypes, Ranges, batched, inexact_layers, layer_names
from .passes import CleanGraph

MIN_FRACTIONAL, MAX_FRACTIONAL, MAX_WIDTH = 0, 24, 24
QUANTIZERS = "quantizers"      # QONNX graphs: types come from the Quant nodes (quantization-aware path)


class LayerOverride(Strict):
    result: Optional[str] = None
    weight: Optional[str] = None
    bias: Optional[str] = None


class PrecisionFile(Strict):
    default: str = "auto"
    target_agreement: float = Field(DEFAULT_TARGET_AGREEMENT, gt=0, le=1)
    max_output_error: float = Field(0.01, gt=0)
    layers: Dict[str, LayerOverride] = Field(default_factory=dict)


@dataclass(frozen=True)
class PrecisionSpec:
    """What the user asked for: 'auto', the quantizers of a QONNX graph, or weight/result types (a
    :class:`~codesign.fixed_point.Precision`), plus overrides by layer name."""
    default: Union[str, Precision] = "auto"
    target_agreement: float = DEFAULT_TARGET_AGREEMENT
    max_output_error: float = 0.01       # mean |y_fixed - y_float| / mean |y_float| on calibration data
    overrides: Mapping[str, LayerOverride] = field(default_factory=dict)
    source: str = "auto"

    @property
    def needs_calibration(self) -> bool:
        """Whether the types depend on calibration data: 'auto', the quantizers' path (results from the
        ranges) and a bare result width (its integer bits from the ranges). Weights' integer bits come
        from the weights themselves."""
        return self.default in ("auto", QUANTIZERS) or self.default.result is None


def precision_spec(option: Union[str, Path, PrecisionSpec, None],
                   target_agreement: float = DEFAULT_TARGET_AGREEMENT) -> PrecisionSpec:
    """A precision option (:func:`codesign.fixed_point.parse_precision`) or a YAML file path → PrecisionSpec."""
    if isinstance(option, PrecisionSpec):
        return option
    text = "auto" if option is None else str(option)
    if text.endswith((".yaml", ".yml")) or Path(text).is_file():
        cfg = validate(PrecisionFile, read_yaml(text), text)
        for name, layer in cfg.layers.items():
            for key, value in layer.model_dump(exclude_none=True).items():
                parse_fixed(value, f"{text}: layers.{name}.{key}")
        return PrecisionSpec(_default(cfg.default, f"{text}: default"), cfg.target_agreement,
                             cfg.max_output_error, dict(cfg.layers), text)
    return PrecisionSpec(_default(text, "--precision"), target_agreement, source=text)


def _default(text: str, where: str) -> Union[str, Precision]:
    """'auto', or a Precision of fixed-point types or bare widths (integer bits chosen per layer)."""
    p = parse_precision(text, where)
    if p.auto:
        return "auto"
    if p.is_float or isinstance(p.result, FloatType):
        raise ConfigError(f"{where}: '{text}': the export builds fixed-point designs; give fixed-point types (e.g. "
                          f"fixed<16,6,RND_CONV,SAT> or ap_fixed<8,3>/ap_fixed<16,6>), widths (8 or 8/16) or auto")
    return p


@dataclass
class PrecisionPlan:
    types: Dict[str, LayerTypes]
    rows: List[dict]                       # the per-layer report
    emulated_agreement: Optional[float]    # None: nothing emulated (no calibration data)
    emulated_output_error: Optional[float]
    target_agreement: Optional[float]
    widths: Optional[tuple]                # auto: (weight width, result fractional bits)
    calibration_samples: int
    source: str
    max_output_error: Optional[float] = None   # auto: the output error bound the search aims at
    inexact: Tuple[str, ...] = ()              # layers the emulation does not compute bit for bit, with why
    checked_against: Optional[float] = None    # given types: the --target-agreement the emulated one is checked against

    def hls_layer_config(self) -> Dict[str, dict]:
        out = {}
        for name, t in self.types.items():
            prec = {k: getattr(t, k).hls() for k in ("result", "weight", "bias") if getattr(t, k) is not None}
            out[name] = {"Precision": prec}
        return out

    @property
    def target_met(self) -> Optional[bool]:
        """auto: whether the emulated agreement and output error meet the search's targets (None: nothing to meet)."""
        if self.target_agreement is None or self.emulated_agreement is None:
            return None
        return bool(self.emulated_agreement >= self.target_agreement and
                    (self.max_output_error is None or self.emulated_output_error <= self.max_output_error))

    @property
    def below_target(self) -> Optional[bool]:
        """Given types (auto's search aims at the target itself: :attr:`target_met`): whether the emulated agreement
        is clearly below ``--target-agreement`` (:func:`clearly_below`); None when nothing was emulated."""
        if self.checked_against is None or self.emulated_agreement is None:
            return None
        return clearly_below(self.emulated_agreement, self.checked_against, self.calibration_samples)

    @property
    def overflows(self) -> Tuple[str, ...]:
        """Layers whose results on the calibration data leave their type's range (they wrap or saturate)."""
        out = []
        for row in self.rows:
            t = self.types.get(row["hls_name"])
            result = None if t is None else t.result
            if result is None or result.is_float or row.get("out_min") is None:
                continue
            if row["out_min"] < result.lowest or row["out_max"] >= result.highest + 2.0 ** -result.fractional:
                out.append(row["layer"])
        return tuple(out)

    @property
    def emulation(self) -> str:
        """'bit-exact' (the emulated numbers are the C simulation's), or which layers make them approximate."""
        return "bit-exact" if not self.inexact else "approximate: " + "; ".join(self.inexact)

    def summary(self) -> dict:
        return {"source": self.source, "target_agreement": self.target_agreement,
                "max_output_error": self.max_output_error, "target_met": self.target_met,
                "emulated_agreement": self.emulated_agreement, "emulation": self.emulation,
                "checked_against": self.checked_against, "below_target": self.below_target,
                "overflows": list(self.overflows),
                "emulated_output_error": self.emulated_output_error,
                "weight_width": self.widths[0] if self.widths else None,
                "result_fractional_bits": self.widths[1] if self.widths else None,
                "calibration_samples": self.calibration_samples, "layers": self.rows}


def agreement(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.argmax(1) == b.argmax(1)).double().mean()) if len(a) else 1.0


def clearly_below(observed: float, expected: float, n: int) -> bool:
    """Whether an agreement ``observed`` on ``n`` samples is below ``expected`` by more than sampling explains
    (three binomial standard deviations and one sample)."""
    return n > 0 and observed < expected - 3.0 * math.sqrt(max(expected * (1.0 - expected), 0.0) / n) - 1.0 / n


def output_error(got: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean absolute output error relative to the mean absolute float output."""
    scale = float(reference.abs().mean())
    return float((got - reference).abs().mean()) / scale if scale > 0 else 0.0


@dataclass(frozen=True)
class Calibration:
    """Calibration inputs run once through the bit-exact float64 emulation: the reference outputs and
    every layer's value range (:func:`calibrate`). The precision choices of one graph (several precisions,
    e.g. a sweep's) can share it: nothing writes to it after."""
    inputs: torch.Tensor
    reference: torch.Tensor
    ranges: Ranges


#: samples per float64 pass of the calibration. A float64 convolution's unfolded input grows with the batch
#: (ResNet-20's first stage: about 115 MB at 98 samples), and buffers that large come from the system as fresh
#: pages on every call: at 256 samples, page faults took 40% of the calibration time of the 10,000-point sweep
#: benchmark's 20 models, at 32 none. A sample's arithmetic does not depend on the batch (outputs and ranges
#: were identical).
CALIBRATION_BATCH = 32


def calibrate(clean: CleanGraph, inputs: torch.Tensor) -> Calibration:
    """Run ``inputs`` (in the graph's input layout) through the float64 emulation, recording the ranges."""
    emu, ranges = Emulator(clean.graph, clean.fused_bias), Ranges()
    return Calibration(inputs, batched(lambda x: emu.run(x, ranges=ranges), inputs, CALIBRATION_BATCH), ranges)


def choose_precision(clean: CleanGraph, calibration: Union[torch.Tensor, Calibration, None], spec: PrecisionSpec,
                     *, emulate: bool = True) -> PrecisionPlan:
    """Pick every layer's types (see the module docstring) and emulate the result. The search runs
    the emulator in float32 (fast; an accumulator sum may be off by an LSB now and then), the
    reported agreement comes from the bit-exact float64 emulation of the final plan. ``calibration``
    None: the types of a spec that needs no calibration data (``spec.needs_calibration`` false), the same
    types as with data, nothing emulated; a :class:`Calibration` is calibration data already run (shared by
    several choices). ``emulate=False``: the types only, without the final emulation of the plan (its
    agreement and output error are then None); the same types."""
    ranges = Ranges()
    weights = _weight_magnitudes(clean)
    if calibration is None:
        if spec.needs_calibration:
            raise ValueError(f"internal: precision '{spec.source}' takes types from calibration ranges; none given")
        plan = _apply_overrides(_given_types(clean, ranges, weights, spec.default), spec, clean)
        rows = [_row(name, clean, plan[name], ranges, weights) for name in plan]
        return PrecisionPlan(plan, rows, None, None, None, None, 0, spec.source,
                             inexact=tuple(inexact_layers(clean.graph, clean.fused_bias, plan, clean.layer_names)))
    if not isinstance(calibration, Calibration):
        calibration = calibrate(clean, calibration)
    inputs, reference, ranges = calibration.inputs, calibration.reference, calibration.ranges
    if spec.default == "auto":
        fast = Emulator(clean.graph, clean.fused_bias, torch.float32)
        widths, plan = _search_widths(fast, clean, inputs, reference.float(), ranges, weights, spec)
    elif spec.default == QUANTIZERS:
        widths, plan = None, _wide_types(clean, ranges)
    else:
        widths, plan = None, _given_types(clean, ranges, weights, spec.default)
    plan = _apply_overrides(plan, spec, clean)
    rows = [_row(name, clean, plan[name], ranges, weights) for name in plan]
    auto = spec.default == "auto"
    target, bound = (spec.target_agreement, spec.max_output_error) if auto else (None, None)
    checked = spec.target_agreement if spec.default not in ("auto", QUANTIZERS) else None
    inexact = tuple(inexact_layers(clean.graph, clean.fused_bias, plan, clean.layer_names))
    if not emulate:
        return PrecisionPlan(plan, rows, None, None, target, widths, len(inputs), spec.source, bound, inexact, checked)
    emu = Emulator(clean.graph, clean.fused_bias)
    emulated = batched(lambda x: emu.run(x, plan), inputs)
    return PrecisionPlan(plan, rows, agreement(emulated, reference), output_error(emulated, reference),
                         target, widths, len(inputs), spec.source, bound, inexact, checked)


def _weight_magnitudes(clean: CleanGraph) -> Dict[str, Dict[str, float]]:
    """{layer: {'weight': max|w|, 'bias': max|b|}} for Conv and Dense layers."""
    g, out, producers = clean.graph, {}, clean.graph.producers()

    def max_abs(tensor: str) -> Optional[float]:
        init = g.param_init(tensor, producers)
        return None if init is None else float(abs(g.inits[init]).max(initial=0.0))

    for n in g.nodes:
        if n.op_type in ("Conv", "MatMul") and max_abs(n.input[1]) is not None:
            out.setdefault(n.name, {})["weight"] = max_abs(n.input[1])
            if n.op_type == "Conv" and len(n.input) > 2 and n.input[2]:
                out[n.name]["bias"] = max_abs(n.input[2])
        if n.name in clean.fused_bias:
            found = [v for v in (max_abs(i) for i in n.input) if v is not None]
            if found:
                out.setdefault(clean.fused_bias[n.name], {})["bias"] = found[0]
    return out


def _given_types(clean: CleanGraph, ranges: Ranges, weights, p: Precision) -> Dict[str, LayerTypes]:
    """The types given (weights and biases: the first, results: the second of WEIGHT/RESULT); a bare width
    gets its integer bits per layer from the value range, as the automatic choice does."""
    plan, output = {}, output_layer(clean)
    for name in layer_names(clean.graph, clean.fused_bias):
        entry = weights.get(name, {})
        weight = bias = None
        if "weight" in entry:
            weight = p.weight or fixed_for_range(entry["weight"], True, width=p.weight_bits)
        if "bias" in entry:
            bias = p.weight or fixed_for_range(entry["bias"], True, width=p.weight_bits)
        result = p.result
        if result is None:
            lo, hi = ranges.out_min.get(name, 0.0), ranges.out_max.get(name, 0.0)
            headroom = 2.0 if name == output else 1.0
            result = fixed_for_range(headroom * max(abs(lo), abs(hi)), lo < 0, width=p.act_bits)
        plan[name] = LayerTypes(result, weight, bias)
    return plan


def _auto_types(clean: CleanGraph, ranges: Ranges, weights, weight_width: Optional[int],
                frac: Optional[int]) -> Dict[str, LayerTypes]:
    """Weights and biases: ``weight_width`` bits each, integer bits from their own range; layer
    results: ``frac`` fractional bits, integer bits from the calibration range (None: float), one
    more for the model's output layer, whose values users compare (unseen inputs may exceed the
    calibration range, and saturating there would show as a large output error)."""
    plan, output = {}, output_layer(clean)
    for name in layer_names(clean.graph, clean.fused_bias):
        lo, hi = ranges.out_min.get(name, 0.0), ranges.out_max.get(name, 0.0)
        headroom = 2.0 if name == output else 1.0
        result = None if frac is None else fixed_for_range(headroom * max(abs(lo), abs(hi)), lo < 0, fractional=frac)
        entry = weights.get(name, {})
        weight = bias = None
        if weight_width is not None and "weight" in entry:
            weight = fixed_for_range(entry["weight"], True, width=weight_width)
        if weight_width is not None and "bias" in entry:
            bias = fixed_for_range(entry["bias"], True, width=weight_width)
        plan[name] = LayerTypes(result, weight, bias)
    return plan


def _wide_types(clean: CleanGraph, ranges: Ranges) -> Dict[str, LayerTypes]:
    """Quantization-aware graphs: the Quant nodes fix weights and activations (hls4ml reads them);
    every other layer result keeps MAX_FRACTIONAL fractional bits, enough to hold the exact value
    of sums of products of quantized numbers, so the next Quant rounds what PyTorch rounds."""
    constant = clean.graph.constant_tensors()
    ops = {n.name: n for n in clean.graph.nodes}
    plan = {}
    for name in layer_names(clean.graph, clean.fused_bias):
        node = ops.get(name)
        if node is not None and (node.op_type == "Quant" or node.output[0] in constant):
            continue
        lo, hi = ranges.out_min.get(name, 0.0), ranges.out_max.get(name, 0.0)
        plan[name] = LayerTypes(fixed_for_range(max(abs(lo), abs(hi)), lo < 0, fractional=MAX_FRACTIONAL))
    return plan


def output_layer(clean: CleanGraph) -> Optional[str]:
    """The layer that writes the model's output."""
    node = clean.graph.producers().get(clean.graph.outputs[0])
    return None if node is None else clean.fused_bias.get(node.name, node.name)


def _search_widths(emu, clean, calibration, reference, ranges, weights, spec: PrecisionSpec):
    """Smallest weight width (results in float), then smallest result fractional width (weights
    at that width), each by bisection; both grow together until the pair meets the targets (top-1
    agreement, and a bound on the output error so that a model whose predictions barely depend on
    its input, such as a randomly initialised one, still gets meaningful widths). Where even the widest
    types miss the targets (hls4ml's Softmax lookup tables bound what any width reaches), the targets
    are met against the widest types' outputs instead of the float model's: the smallest widths that
    compute what the widest compute (weights searched with results at their widest, which the tables read)."""
    def good(weight_width, frac, against):
        plan = _auto_types(clean, ranges, weights, weight_width, frac)
        got = batched(lambda x: emu.run(x, plan), calibration)
        return (agreement(got, against) >= spec.target_agreement
                and output_error(got, against) <= spec.max_output_error), plan

    def search(against, weight_results):
        weight_width = _smallest(lambda w: good(w, weight_results, against)[0], 2, MAX_WIDTH)
        frac = _smallest(lambda f: good(weight_width, f, against)[0], MIN_FRACTIONAL, MAX_FRACTIONAL)
        ok, plan = good(weight_width, frac, against)
        while not ok and weight_width < MAX_WIDTH and frac < MAX_FRACTIONAL:
            weight_width, frac = weight_width + 1, frac + 1
            ok, plan = good(weight_width, frac, against)
        return ok, (weight_width, frac), plan

    ok, widths, plan = search(reference, None)
    if not ok:
        widest = _auto_types(clean, ranges, weights, MAX_WIDTH, MAX_FRACTIONAL)
        ok, widths, plan = search(batched(lambda x: emu.run(x, widest), calibration), MAX_FRACTIONAL)
    return widths, plan


def _smallest(ok: Callable[[int], bool], lo: int, hi: int) -> int:
    """Smallest value in [lo, hi] for which the monotone predicate holds (hi if none does)."""
    if not ok(hi):
        return hi
    while lo < hi:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


def override_targets(spec: PrecisionSpec, clean: CleanGraph) -> Dict[str, str]:
    """{name given in the YAML: hls4ml layer name}; unknown names are one-line errors (checked
    before any slow step)."""
    return layer_targets(spec.overrides, clean, "precision override")


def layer_targets(given_names, clean: CleanGraph, what: str) -> Dict[str, str]:
    """{given name: the export graph's layer name} for PyTorch names (fc1, layers.0.0.conv1), the graph's
    names, or hls4ml's renamed ones (Dense_fc1, Conv2D_conv1), by codesign.hls_names' rule (the one ``codesign
    simulate`` follows); an unknown name is a one-line error."""
    layers = list(layer_names(clean.graph, clean.fused_bias))
    index: Dict[str, str] = {}
    for name in layers:
        for key in layer_keys(name):
            index.setdefault(key, name)
    for name, torch_name in clean.layer_names.items():
        for key in layer_keys(torch_name):
            index.setdefault(key, name)
    out = {}
    for given in given_names:
        out[given] = find_layer(given, index)
        if out[given] is None:
            choices = sorted(clean.layer_names[n] for n in layers if n in clean.layer_names)
            raise ConfigError(f"{what} for unknown layer '{given}'{close_matches(given, choices)}; "
                              f"layers: {', '.join(choices[:12])}{' ...' if len(choices) > 12 else ''}")
    return out


def _apply_overrides(plan: Dict[str, LayerTypes], spec: PrecisionSpec, clean: CleanGraph) -> Dict[str, LayerTypes]:
    """The plan with the overrides' types; overrides of one layer under two names merge as hls4ml applies them
    (codesign.hls_names.merge_by_layer: two that disagree are a one-line error)."""
    out = dict(plan)
    parsed = {given: {k: parse_fixed(v, f"layers.{given}.{k}") for k, v in layer.model_dump(exclude_none=True).items()}
              for given, layer in spec.overrides.items()}
    for name, values in merge_by_layer(parsed, override_targets(spec, clean)).items():
        out[name] = replace(out.get(name, LayerTypes()), **values)
    return out


def _row(name: str, clean: CleanGraph, types: LayerTypes, ranges: Ranges, weights) -> dict:
    node_op = next((n.op_type for n in clean.graph.nodes if n.name == name), "Input")
    return {"layer": clean.layer_names.get(name, name), "hls_name": name, "op": node_op,
            "result": types.result.hls() if types.result else None,
            "weight": types.weight.hls() if types.weight else None,
            "bias": types.bias.hls() if types.bias else None,
            "out_min": ranges.out_min.get(name), "out_max": ranges.out_max.get(name),
            "weight_max_abs": weights.get(name, {}).get("weight")}
