"""Fixed-point accuracy without g++: the export graph run by the bit-exact emulation of hls4ml's
arithmetic (:mod:`codesign.export.emulate`) at a precision, on labelled samples.

This is what a sweep ranks hardware points by when C simulation is off: the precision a point
is built at decides its accuracy, and ``ap_fixed<8,3>`` on a model whose activations need more
integer bits shows here as the accuracy the hardware would have, not the float model's.

    fixed_point_accuracy(model, "ap_fixed<8,3>", test_x, test_y) -> FixedAccuracy

It is also what a training run for a device (``--fit``) reports at its end (:func:`held_out_check`): the design
its budget priced is built at the budget's precision, and a model whose results overflow that type answers
otherwise than the trained model, however well the hardware fits.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn

from ..target import DEFAULT_TARGET_AGREEMENT
from .emulate import Emulator, batched
from .hls import as_graph_input, source_graph
from .precision import PrecisionPlan, PrecisionSpec, agreement, choose_precision, clearly_below, precision_spec

CALIBRATION_MAX = 256          # samples the precision choice (ranges, 'auto' search) looks at
CHECK_SAMPLES = 256            # held-out samples the end of a --fit run emulates (fewer for a large model)


@dataclass(frozen=True)
class FixedAccuracy:
    precision: str
    samples: int
    accuracy: Optional[float]         # None without labels
    float_accuracy: Optional[float]   # the same graph in float64 on the same samples
    agreement: float                  # top-1 agreement of fixed point with float

    def fields(self, prefix: str = "fixed_") -> dict:
        """The sweep's columns: fixed_precision, fixed_samples, fixed_accuracy, ..."""
        return {prefix + k: v for k, v in asdict(self).items()}


def fixed_point_accuracy(model: nn.Module, precision: Union[str, PrecisionSpec], x: torch.Tensor,
                         y: Optional[torch.Tensor] = None,
                         calibration: Optional[torch.Tensor] = None) -> FixedAccuracy:
    """Top-1 accuracy of ``model`` built at ``precision`` (any export precision option) on NCHW
    samples ``x`` with labels ``y``; ``calibration`` (default: the first samples of ``x``) sets
    the layer ranges the precision choice reads, as the export does."""
    return _emulated(model, precision, x, y, calibration)[0]


def _emulated(model: nn.Module, precision, x: torch.Tensor, y: Optional[torch.Tensor],
              calibration: Optional[torch.Tensor]) -> Tuple[FixedAccuracy, PrecisionPlan]:
    """(:func:`fixed_point_accuracy`, the precision plan it emulated)."""
    spec = precision_spec(precision)
    clean = source_graph(model)
    inputs = as_graph_input(x.float(), clean.input_layout)
    calib = inputs[:CALIBRATION_MAX] if calibration is None else as_graph_input(calibration.float(), clean.input_layout)
    plan = choose_precision(clean, calib, spec, emulate=False)
    emu = Emulator(clean.graph, clean.fused_bias)
    fixed = batched(lambda b: emu.run(b, plan.types), inputs)
    exact = batched(lambda b: emu.run(b), inputs)
    result = FixedAccuracy(spec.source, len(x), _accuracy(fixed, y), _accuracy(exact, y), agreement(fixed, exact))
    return result, plan


@dataclass(frozen=True)
class FixedCheck:
    """A model's fixed-point agreement at one precision (:class:`FixedAccuracy`) held against the export's target
    agreement: below it when clearly below (:func:`~codesign.export.precision.clearly_below`, as the export checks
    a C simulation), with the layers whose results leave their type's range on the calibration data."""
    result: FixedAccuracy
    target: float
    overflows: Tuple[str, ...]
    emulation: str                    # 'bit-exact', or which layers make the emulated numbers approximate

    @property
    def below(self) -> bool:
        return clearly_below(self.result.agreement, self.target, self.result.samples)

    def line(self, what: str = "held-out test samples") -> str:
        """One line for the run's messages, starting 'warning: ' when :attr:`below`."""
        r = self.result
        acc = "" if r.accuracy is None else f" (accuracy {r.accuracy:.4f}, float {r.float_accuracy:.4f})"
        text = (f"fixed point at {r.precision}: top-1 agreement with the float model {r.agreement:.4f}{acc} on "
                f"{r.samples:,} {what}")
        if not self.below:
            return text
        where = f" ({', '.join(self.overflows)}: results out of their type's range)" if self.overflows else ""
        return (f"warning: {text}, clearly below the export's --target-agreement {self.target:g}{where}: the design "
                f"answers otherwise than the trained model; give a wider --precision")

    def section(self) -> dict:
        """The report's ``fixed_point`` section."""
        return {**asdict(self.result), "target_agreement": self.target, "below_target": self.below,
                "overflows": list(self.overflows), "emulation": self.emulation}


def fixed_point_check(model: nn.Module, precision: Union[str, PrecisionSpec], x: torch.Tensor,
                      y: Optional[torch.Tensor] = None, calibration: Optional[torch.Tensor] = None,
                      target: float = DEFAULT_TARGET_AGREEMENT) -> FixedCheck:
    """:func:`fixed_point_accuracy` of ``model`` at ``precision``, held against ``target`` (:class:`FixedCheck`)."""
    result, plan = _emulated(model, precision, x, y, calibration)
    return FixedCheck(result, target, plan.overflows, plan.emulation)


def held_out_check(model: nn.Module, precision: Union[str, PrecisionSpec], splits,
                   target: float = DEFAULT_TARGET_AGREEMENT) -> FixedCheck:
    """:func:`fixed_point_check` on the first held-out test samples of ``splits`` (a
    :class:`~codesign.data.Splits`; at most :data:`CHECK_SAMPLES`, fewer for a large model: the export's
    calibration count), the types' ranges from as many first training samples, as the export takes them."""
    from .samples import default_counts, macs_per_sample

    was_training = model.training
    model.eval()
    try:
        n = min(CHECK_SAMPLES, default_counts(macs_per_sample(model, splits.in_shape))["calibration"])
        x, y = splits.test
        return fixed_point_check(model, precision, x[:n], y[:n], splits.train[0][:n], target)
    finally:
        model.train(was_training)


def _accuracy(out: torch.Tensor, y: Optional[torch.Tensor]) -> Optional[float]:
    if y is None or not len(out):
        return None
    return float((out.argmax(1) == y.to(out.device)).double().mean())
