"""FPGA device database: one YAML file per device in ``codesign/sim/devices/`` (or a user's own file).

Every constant is ``{value, unit, source, confidence}``; the unit is checked against the field's
expected unit, and ``confidence`` is one of V (verified in a primary source), V2 (secondary source),
D (derived by arithmetic), M (from memory / vendor tables, unverified) or fit (fitted to a published
result named in ``source``). Template calibration constants default to ``devices/_calibration.yaml``
and a device file may override any of them. A malformed file is a one-line :class:`ConfigError`.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, fields
from functools import cached_property, lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Dict, Iterator, List, Literal, Mapping, Optional, Tuple, Union

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from .. import validate as checks
from ..schema import Name, Strict, in_limits, read_yaml, validate
from ..errors import ConfigError, close_matches

Confidence = Literal["V", "V2", "D", "M", "fit"]


class Quantity(Strict):
    value: Union[float, List[float]]
    unit: str
    source: str = Field(min_length=3)
    confidence: Confidence


def _unit(*expected: str, positive: bool = False, at_most: Optional[float] = None, count: bool = False):
    """A quantity in one of the ``expected`` units: one finite number, >= 0, or > 0 with ``positive`` (a
    clock, a bandwidth or a resource count of zero would divide by zero in the cost models); a whole number
    with ``count`` (a device has 220 DSPs, not 2.5: the cost models would truncate it)."""
    def check(q: Quantity) -> Quantity:
        if q.unit not in expected:
            raise ValueError(f"unit must be {' or '.join(repr(e) for e in expected)}, got '{q.unit}'")
        if isinstance(q.value, list) or q.value < 0 or (positive and q.value == 0):
            raise ValueError(f"expected one {'positive' if positive else 'non-negative'} number, got {q.value!r}")
        if count and q.value != int(q.value):
            raise ValueError(f"expected a whole number, got {q.value!r}")
        if at_most is not None and q.value > at_most:
            raise ValueError(f"expected a {q.unit} of at most {at_most:g}, got {q.value!r}")
        return q
    return Annotated[Quantity, AfterValidator(check)]


def _pair_of_bits(q: Quantity) -> Quantity:
    if q.unit != "bit" or not isinstance(q.value, list) or len(q.value) != 2:
        raise ValueError("expected a pair of bit widths, e.g. {value: [27, 18], unit: bit, ...}")
    if any(v < 1 or v != int(v) for v in q.value):
        raise ValueError(f"bit widths are integers >= 1, got {q.value!r}")
    return q


class Resources(Strict):
    lut: _unit("count", positive=True, count=True)
    ff: _unit("count", positive=True, count=True)
    dsp: _unit("count", positive=True, count=True)
    bram: _unit("BRAM18", "M20K", positive=True, count=True)
    uram: Optional[_unit("count", count=True)] = None


class Memory(Strict):
    bram_block_bits: _unit("bit", positive=True, count=True)


class DspModel(Strict):
    mult_width: Annotated[Quantity, AfterValidator(_pair_of_bits)]
    fixed_mults_per_dsp: _unit("mult", positive=True, count=True)
    int8_mults_per_dsp: _unit("mult", positive=True, count=True)
    fp32_dsp_per_mac: _unit("DSP", positive=True)


def _fabric_clock(q: Quantity) -> Quantity:
    in_limits(checks.clock_mhz, q.value)      # 1 to 1000 MHz (codesign.validate.CLOCK_MHZ_MIN, _MAX)
    return q


class Clock(Strict):
    default: Annotated[_unit("MHz", positive=True), AfterValidator(_fabric_clock)]


class Dram(Strict):
    type: str
    peak_bandwidth: _unit("GB/s", positive=True)
    efficiency: _unit("fraction", positive=True, at_most=1.0)
    energy: _unit("pJ/bit")


class Energy(Strict):
    mac_16x16: _unit("pJ")
    fp32_mac: _unit("pJ")
    alu_op_16b: _unit("pJ")
    bram_access: _unit("pJ/bit")
    static_power: _unit("W")
    board_power: Optional[_unit("W")] = None     # the rest of the board while the design runs (PS, memory, ...)


#: the block RAM each vendor's parts count in
BRAM_KIND = {"xilinx": "BRAM18", "intel": "M20K"}


class DeviceFile(Strict):
    name: Name                       # becomes part of report folder names
    board: str
    part: str
    vendor: Literal["xilinx", "intel"]
    family: str
    description: str
    aliases: List[str] = []
    resources: Resources
    memory: Memory
    dsp: DspModel
    clock: Clock
    dram: Dram
    energy: Energy
    calibration: Dict[str, Dict[str, Quantity]] = {}

    @field_validator("resources")
    @classmethod
    def _block_ram_of_the_vendor(cls, resources: Resources, info: ValidationInfo) -> Resources:
        """BRAM18 blocks are AMD/Xilinx's, M20K Intel's: the other vendor's unit is a mistake, not a device."""
        kind = BRAM_KIND.get(info.data.get("vendor"))
        if kind is not None and resources.bram.unit != kind:
            raise ValueError(f"a {info.data['vendor']} device counts its block RAM (bram) in {kind} blocks, got "
                             f"unit '{resources.bram.unit}'")
        return resources


class CalibrationFile(Strict):
    calibration: Dict[str, Dict[str, Quantity]]


@dataclass(frozen=True)
class Device:
    """A device's numbers in the units the cost models use (counts, bits, Hz, bytes/s, pJ, W)."""

    name: str
    board: str
    part: str
    vendor: str
    family: str
    description: str
    lut: int
    ff: int
    dsp: int
    bram: int                 # blocks of bram_kind
    bram_kind: str            # "BRAM18" or "M20K"
    bram_block_bits: int
    uram: int
    mult_width: Tuple[int, int]
    fixed_mults_per_dsp: float
    int8_mults_per_dsp: float
    fp32_dsp_per_mac: float
    clock_mhz: float
    dram_type: str
    dram_peak_gbps: float     # GB/s (1e9 bytes/s)
    dram_efficiency: float
    dram_pj_per_bit: float
    mac_pj_16x16: float
    fp32_mac_pj: float
    alu_pj_16b: float
    bram_pj_per_bit: float
    static_w: float
    board_w: float            # board power outside the FPGA fabric (0: not modelled for this device)
    calibration: Mapping[str, float]
    constants: Mapping[str, Dict[str, Any]] = field(compare=False, hash=False)
    path: str = ""
    aliases: Tuple[str, ...] = ()
    content: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False, repr=False)   # the YAML it
    # was read from, validated (codesign.sim.device_record: what a run records of a device file)

    @cached_property
    def key(self) -> str:
        """A hash of every number and name the cost models read: what per-process caches key a device by (a device
        file edited since is another key; where a file lies is not part of it)."""
        values = ((f.name, getattr(self, f.name)) for f in fields(self) if f.compare and f.name != "path")
        numbers = tuple((name, tuple(sorted(v.items())) if isinstance(v, Mapping) else v) for name, v in values)
        return hashlib.sha1(repr(numbers).encode()).hexdigest()

    @property
    def dram_bytes_per_s(self) -> float:
        return self.dram_peak_gbps * 1e9 * self.dram_efficiency

    def cal(self, key: str) -> float:
        try:
            return self.calibration[key]
        except KeyError:
            raise ConfigError(f"device '{self.name}' lacks calibration constant '{key}'") from None


# ------------------------------------------------------------------------------------------ loading

def _package_dir() -> Path:
    return Path(str(resources.files("codesign.sim").joinpath("devices")))


def _flatten(sections: Dict[str, Dict[str, Quantity]]) -> Dict[str, Quantity]:
    return {f"{sec}.{key}": q for sec, items in sections.items() for key, q in items.items()}


@lru_cache(maxsize=1)
def _default_calibration() -> Dict[str, Quantity]:
    path = _package_dir() / "_calibration.yaml"
    return _flatten(validate(CalibrationFile, read_yaml(path), str(path)).calibration)


def _merge_calibration(spec: DeviceFile, source: str) -> Dict[str, Quantity]:
    merged = dict(_default_calibration())
    for key, q in _flatten(spec.calibration).items():
        if key not in merged:
            raise ConfigError(f"{source}: unknown calibration constant '{key}'{close_matches(key, merged)}; "
                              f"known: {', '.join(sorted(merged))}")
        if q.unit != merged[key].unit:
            raise ConfigError(f"{source}: calibration.{key}: unit must be '{merged[key].unit}', got '{q.unit}'")
        merged[key] = q
    return merged


def _constants(spec: DeviceFile, calibration: Dict[str, Quantity]) -> Dict[str, Dict[str, Any]]:
    out: Dict[str, Dict[str, Any]] = {}
    for section in ("resources", "memory", "dsp", "clock", "dram", "energy"):
        for key, q in getattr(spec, section):
            if isinstance(q, Quantity):
                out[f"{section}.{key}"] = q.model_dump()
    out.update({f"calibration.{k}": q.model_dump() for k, q in calibration.items()})
    return out


def _from_spec(spec: DeviceFile, source: str) -> Device:
    r, e, d = spec.resources, spec.energy, spec.dsp
    cal = _merge_calibration(spec, source)
    width = tuple(int(v) for v in d.mult_width.value)
    return Device(
        name=spec.name, board=spec.board, part=spec.part, vendor=spec.vendor, family=spec.family,
        description=spec.description, lut=int(r.lut.value), ff=int(r.ff.value), dsp=int(r.dsp.value),
        bram=int(r.bram.value), bram_kind=r.bram.unit, bram_block_bits=int(spec.memory.bram_block_bits.value),
        uram=int(r.uram.value) if r.uram else 0, mult_width=(max(width), min(width)),
        fixed_mults_per_dsp=float(d.fixed_mults_per_dsp.value), int8_mults_per_dsp=float(d.int8_mults_per_dsp.value),
        fp32_dsp_per_mac=float(d.fp32_dsp_per_mac.value), clock_mhz=float(spec.clock.default.value),
        dram_type=spec.dram.type, dram_peak_gbps=float(spec.dram.peak_bandwidth.value),
        dram_efficiency=float(spec.dram.efficiency.value), dram_pj_per_bit=float(spec.dram.energy.value),
        mac_pj_16x16=float(e.mac_16x16.value), fp32_mac_pj=float(e.fp32_mac.value),
        alu_pj_16b=float(e.alu_op_16b.value), bram_pj_per_bit=float(e.bram_access.value),
        static_w=float(e.static_power.value), board_w=float(e.board_power.value) if e.board_power else 0.0,
        calibration=MappingProxyType({k: float(q.value) for k, q in cal.items()}),
        constants=MappingProxyType(_constants(spec, cal)), path=source, aliases=tuple(spec.aliases),
        content=spec.model_dump(mode="json"))


def load_device_file(path: str | Path) -> Device:
    path = Path(path)
    data = read_yaml(path)
    spec = validate(DeviceFile, data, str(path))
    return _from_spec(spec, str(path))


def device_from_content(content: Mapping[str, Any], source: str = "the recorded device") -> Device:
    """The device a mapping holds: a device YAML's content, as a run records a device file
    (:mod:`codesign.sim.device_record`)."""
    if not isinstance(content, Mapping):
        raise ConfigError(f"{source}: expected a device (a mapping of a device YAML's keys), got "
                          f"{type(content).__name__}")
    return _from_spec(validate(DeviceFile, dict(content), source), source)


def names_file(text: str) -> bool:
    """Whether :func:`load_device` reads ``text`` as the path of a device YAML (not a shipped name)."""
    path = Path(text)
    return path.suffix in (".yaml", ".yml") or path.exists()


@lru_cache(maxsize=1)
def _shipped() -> Dict[str, Device]:
    devices = {}
    for path in sorted(_package_dir().glob("*.yaml")):
        if not path.name.startswith("_"):
            device = load_device_file(path)
            devices[device.name] = device
    return devices


@lru_cache(maxsize=1)
def _aliases() -> Dict[str, str]:
    table = {}
    for name, device in _shipped().items():
        table[name.lower()] = name
        table.update({a.lower(): name for a in device.aliases})
    return table


def load_device(name_or_path: "str | Path | Device | Mapping[str, Any]") -> Device:
    """A shipped device by name or alias (``codesign list devices``), a user's YAML file by path, or the
    content of one (a mapping, as a run records a device file: :mod:`codesign.sim.device_record`)."""
    if isinstance(name_or_path, Device):
        return name_or_path
    if isinstance(name_or_path, Mapping):
        return device_from_content(name_or_path)
    text = str(name_or_path)
    if not text.strip():
        raise ConfigError("no device given: name one (codesign list devices) or a device YAML file")
    if names_file(text):
        return load_device_file(Path(text))
    by_name = _shipped_by_name(text)
    if by_name is not None:                  # a shipped device by its own name: read only its file
        return by_name
    aliases = _aliases()
    if text.lower() not in aliases:
        raise ConfigError(f"unknown device '{text}'{close_matches(text.lower(), aliases)}; choose one of: "
                          f"{', '.join(sorted(_shipped()))} (codesign list devices), an alias such as pynq-z2, "
                          f"or the path of your own device YAML")
    return _shipped()[aliases[text.lower()]]


@lru_cache(maxsize=None)
def _shipped_by_name(name: str) -> Optional[Device]:
    """The shipped device whose file is NAME.yaml and whose name is NAME, without reading the others."""
    path = _package_dir() / f"{name}.yaml"
    if name.startswith("_") or "/" in name or not path.is_file():
        return None
    device = load_device_file(path)
    return device if device.name == name else None


def list_devices() -> Iterator[Tuple[str, str, str]]:
    """(name, part, description) of every shipped device, sorted by name."""
    for name, device in sorted(_shipped().items()):
        yield name, device.part, f"{device.board}: {device.description}"


# FPGA dies sold under another part name on the card a shipped device models: same resources.
SAME_DIE = {"xcvu13p": "xcu250", "xcvu9p": "xcu200"}


def device_for_part(part: str) -> Tuple[Optional[Device], str]:
    """The shipped device whose part is ``part`` (speed grade and package may differ) and how it matched.

    Returns (None, reason) when no shipped device models that part."""
    text = part.strip().lower()
    for name, device in sorted(_shipped().items()):
        if text == device.part.lower():
            return device, f"part {part} is the {device.board}'s"
    for name, device in sorted(_shipped().items()):
        if text.startswith(name.lower()):
            return device, f"part {part} is the {device.board}'s die ({name}) in another package or speed grade"
    for die, name in SAME_DIE.items():
        if text.startswith(die) and name in _shipped():
            device = _shipped()[name]
            return device, f"part {part} ({die}) has the same die and resources as the {device.board}'s {name}"
    return None, f"no shipped device models part {part}"


#: a 7-series (or older) part number: the die, then the package (xc7z020 clg400, xc7a100t csg324)
_SERIES7 = re.compile(r"^(x[acq]\d[a-z]+\d+t?)[a-z]+\d+$")


def die_of(part: str) -> str:
    """The FPGA die of an AMD/Xilinx part number, without package and speed grade: 'xc7z020clg400-1' → 'xc7z020',
    'xcu250-figd2104-2L-e' → 'xcu250'; a die sold under another name on a card is the card's
    (:data:`SAME_DIE`: 'xcvu13p-flga2577-2-e' → 'xcu250')."""
    head = part.strip().lower().split("-")[0]
    m = _SERIES7.match(head)
    die = m.group(1) if m else head
    return SAME_DIE.get(die, die)


def check_same_chip(part: str, part_said: str, device: Device, device_said: str, remedy: Optional[str] = None) -> None:
    """A one-line ConfigError where ``part`` (the project's, named ``part_said``) and ``device`` (what the design is
    folded and estimated for, named ``device_said``) are different chips; another package or speed grade of the
    same die is the same chip (the same resources). ``remedy``: what to do, said in the message."""
    if die_of(part) != die_of(device.part):
        remedy = remedy or (f"give one of them, or a part of the device's die ({die_of(device.part)}, any package or "
                            f"speed grade)")
        raise ConfigError(f"{device_said} is part {device.part} and {part_said} is {part}: two different chips "
                          f"(a design for one, folded and judged for the other); {remedy}")


def shipped_device_names() -> List[str]:
    return sorted(_shipped())


def device_resources(device: Device) -> Dict[str, float]:
    """{resource: what the device has of it}, keyed as the estimator counts resources."""
    return {"dsp": device.dsp, "lut": device.lut, "ff": device.ff, "bram": device.bram, "uram": device.uram}
