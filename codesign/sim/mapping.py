"""How a network is mapped onto a device: template, reuse factor, strategy, I/O type, precision, clock.

``dataflow`` is what hls4ml generates (one engine per layer, weights on chip); ``tiled`` is a
loop-tiled accelerator streaming weights and feature maps from DRAM (Zhang FPGA'15 / Ma FPGA'17).
Reuse factor, strategy and I/O type apply to ``dataflow``; ``unroll``, ``zero_skip`` and ``dram_layout``
to ``tiled``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional, Tuple, Union

from ..errors import ConfigError, close_matches
from .precision import Precision, parse_precision

TEMPLATES = ("dataflow", "tiled")
STRATEGIES = ("Latency", "Resource")
IO_TYPES = ("auto", "io_parallel", "io_stream")
UNROLL_FAMILIES = ("auto", "ma", "zhang")
DRAM_LAYOUTS = ("packed", "aligned")
SPARSE_KERNEL_MODES = ("auto", "on", "off")
Unroll = Union[str, Tuple[int, int, int, int]]


def _choice(kind: str, value: str, choices) -> str:
    for c in choices:
        if str(value).lower() == c.lower():
            return c
    raise ConfigError(f"unknown {kind} '{value}'{close_matches(str(value), choices)}; choose one of: "
                      f"{', '.join(choices)}")


def parse_unroll(value: "Unroll") -> "Unroll":
    """'auto' | 'ma' | 'zhang' | 'Pof,Pif,Pox,Poy' (e.g. '64,7,1,1' for Zhang FPGA'15) or a 4-tuple."""
    if isinstance(value, str) and "," not in value:
        return _choice("unroll family", value, UNROLL_FAMILIES)
    parts = value.split(",") if isinstance(value, str) else list(value)
    try:
        factors = tuple(int(p) for p in parts)
    except (TypeError, ValueError):
        factors = ()
    if len(factors) != 4 or min(factors) < 1:
        raise ConfigError(f"unroll '{value}': give a family ({', '.join(UNROLL_FAMILIES)}) or four factors "
                          f"Pof,Pif,Pox,Poy >= 1, e.g. 64,7,1,1")
    return factors


@dataclass(frozen=True)
class Mapping:
    template: str = "dataflow"
    reuse_factor: int = 1
    strategy: str = "Latency"
    io_type: str = "auto"
    precision: Precision = field(default_factory=parse_precision)
    clock_mhz: Optional[float] = None          # None: the device's default clock
    zero_skip: bool = False                    # tiled only: idealised skipping of zero weights
    unroll: Unroll = "auto"                    # tiled only
    dram_layout: str = "packed"                # tiled only: "packed" or channel-"aligned" to the array width
    sparse_kernel: str = "off"                 # dataflow: Dense layers on the sparse kernel (auto|on|off)

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731  (frozen dataclass normalisation)
        set_("template", _choice("template", self.template, TEMPLATES))
        set_("strategy", _choice("strategy", self.strategy, STRATEGIES))
        set_("io_type", _choice("io type", self.io_type, IO_TYPES))
        set_("precision", parse_precision(self.precision))
        set_("unroll", parse_unroll(self.unroll))
        set_("dram_layout", _choice("DRAM layout", self.dram_layout, DRAM_LAYOUTS))
        set_("sparse_kernel", _choice("sparse kernel mode", self.sparse_kernel, SPARSE_KERNEL_MODES))
        if int(self.reuse_factor) != self.reuse_factor or self.reuse_factor < 1:
            raise ConfigError(f"reuse factor must be an integer >= 1, got {self.reuse_factor}")
        set_("reuse_factor", int(self.reuse_factor))
        if self.clock_mhz is not None and not self.clock_mhz > 0:
            raise ConfigError(f"clock must be > 0 MHz, got {self.clock_mhz}")

    def clock_hz(self, device) -> float:
        return (self.clock_mhz or device.clock_mhz) * 1e6

    def resolved_io_type(self, network) -> str:
        """'auto' follows hls4ml practice: io_stream for networks with convolutions/pooling, else io_parallel."""
        if self.io_type != "auto":
            return self.io_type
        spatial = any(l.op in ("conv", "maxpool", "avgpool", "globalpool") for l in network.layers)
        return "io_stream" if spatial else "io_parallel"

    def with_(self, **changes) -> "Mapping":
        return replace(self, **changes)

    @classmethod
    def from_target(cls, target) -> "Mapping":
        """From a recipe's ``target`` section (codesign.config.TargetCfg)."""
        return cls(template=target.template, reuse_factor=target.reuse_factor, strategy=target.strategy,
                   io_type=target.io_type, precision=target.precision, clock_mhz=1000.0 / target.clock_period_ns)

    def describe(self) -> dict:
        out = {"template": self.template, "precision": self.precision.label,
               "clock_mhz": self.clock_mhz}
        if self.template == "dataflow":
            out.update(reuse_factor=self.reuse_factor, strategy=self.strategy, io_type=self.io_type)
            if self.sparse_kernel != "off":
                out["sparse_kernel"] = self.sparse_kernel
        else:
            out.update(unroll=self.unroll if isinstance(self.unroll, str) else list(self.unroll),
                       zero_skip=self.zero_skip, dram_layout=self.dram_layout)
        return out
