"""``--max-util``: the largest share of each device resource a design may use -- one share for every
resource, or a share per resource (a design that must leave DSPs or BRAM to the rest of the chip).

    UtilLimit.of(0.8)                          # 80% of each resource
    UtilLimit.of("0.8,dsp=0.25")               # 80% of each, but at most 25% of the DSPs
    UtilLimit.of({"dsp": 0.25, "lut": 0.5})    # the resources not named keep the default, 80%
    limit["dsp"], limit.budget(device), limit.load(util), limit.as_json(), limit.describe()

The text form is what the commands take (``--max-util 0.6,DSP=0.25,LUT=0.5``; names as hls4ml's reports
spell them: DSP, LUT, FF, BRAM (or BRAM_18K), URAM; any case); a recipe's ``target.max_util`` takes a
number or a mapping (``{all: 0.6, DSP: 0.25}``). :meth:`UtilLimit.as_json` is a number when every resource
has the same share, so reports and cache keys of a uniform limit read as they always did.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Mapping, Optional, Tuple, Union

from ..errors import ConfigError
from ..target import DEFAULT_MAX_UTIL
from .fold_table import RESOURCES

DEFAULT_SHARE = DEFAULT_MAX_UTIL
EVERY = "all"                                   # the key of the share of the resources not named
ALIASES = {"dsp": "dsp", "dsp48": "dsp", "lut": "lut", "ff": "ff", "reg": "ff", "bram": "bram",
           "bram_18k": "bram", "uram": "uram"}
LABELS = {"dsp": "DSP", "lut": "LUT", "ff": "FF", "bram": "BRAM", "uram": "URAM"}
TOLERANCE = 1e-12

Given = Union["UtilLimit", float, int, str, Mapping[str, object]]


def _share(value, what: str, flag: str) -> float:
    try:
        share = float(value)
    except (TypeError, ValueError):
        share = float("nan")
    if not 0.0 < share <= 1.0 or math.isnan(share):
        raise ConfigError(f"{flag}{what} must be in (0, 1], got {value}")
    return share


def _resource(name, flag: str) -> str:
    key = str(name).strip().lower()
    if key not in ALIASES:
        raise ConfigError(f"{flag}: unknown resource '{name}' (one of {', '.join(LABELS.values())}, "
                          f"or '{EVERY}' for the others)")
    return ALIASES[key]


@dataclass(frozen=True)
class UtilLimit:
    """A share in (0, 1] per resource (:data:`RESOURCES` order); ``named``: the resources given a share of
    their own, ``default``: the share of the others (as given: :meth:`as_json` writes them back)."""
    shares: Tuple[float, ...]
    named: Tuple[str, ...] = field(default=(), compare=False)
    default: Optional[float] = field(default=None, compare=False)

    @classmethod
    def of(cls, value: Given, flag: str = "--max-util") -> "UtilLimit":
        """From a number, the text form, a mapping (resource or ``all`` -> share) or a UtilLimit (see the
        module doc); anything else is a one-line ConfigError that names ``flag``."""
        if isinstance(value, UtilLimit):
            return value
        if isinstance(value, Mapping):
            pairs = list(value.items())
        elif isinstance(value, str):
            pairs = []
            for part in (p.strip() for p in value.split(",")):
                if not part:
                    raise ConfigError(f"{flag}: an empty entry in '{value}' (e.g. 0.8,DSP=0.25)")
                name, _, share = part.rpartition("=")
                pairs.append((name.strip() or EVERY, share.strip()))
        elif isinstance(value, bool):
            raise ConfigError(f"{flag} must be in (0, 1], got {value}")
        else:
            pairs = [(EVERY, value)]
        default, named, common_given = DEFAULT_SHARE, {}, False
        for name, share in pairs:
            if str(name).strip().lower() == EVERY:
                if common_given:
                    raise ConfigError(f"{flag} gives the share of every resource twice in '{value}' (one share, "
                                      "then RESOURCE=share pairs: e.g. 0.8,DSP=0.25)")
                default, common_given = _share(share, "", flag), True
            else:
                key = _resource(name, flag)
                if key in named:
                    raise ConfigError(f"{flag} names {LABELS[key]} twice")
                named[key] = _share(share, f" of {LABELS[key]}", flag)
        return cls(tuple(named.get(k, default) for k in RESOURCES), tuple(k for k in RESOURCES if k in named),
                   default)

    def check_device(self, device, flag: str = "--max-util") -> "UtilLimit":
        """This limit, or a one-line ConfigError when it gives a share of a resource ``device`` has none of
        (a URAM share on a part without UltraRAM): a share that limits nothing is a mistake to say."""
        from .device import device_resources

        avail = device_resources(device)
        missing = [k for k in self.named if not avail[k]]
        if missing:
            names = "/".join(LABELS[k] for k in missing)
            has = ", ".join(f"{LABELS[k]} {int(v):,}" for k, v in avail.items() if v)
            shares = ",".join(f"{LABELS[k]}={self[k]:g}" for k in missing)
            raise ConfigError(f"{flag} gives a share of {names}, but {device.name} ({device.board}) has no {names}: "
                              f"it has {has}; drop {shares}, or pick a device that has {names}")
        return self

    def __getitem__(self, resource: str) -> float:
        return self.shares[RESOURCES.index(resource)]

    @property
    def uniform(self) -> bool:
        return len(set(self.shares)) == 1

    @property
    def common(self) -> float:
        """The share most resources have (the one ``all`` would set)."""
        return max(set(self.shares), key=lambda s: (self.shares.count(s), s))

    def budget(self, avail: Mapping[str, float]) -> Dict[str, float]:
        """{resource: the amount allowed} of ``avail`` (what the device has of each)."""
        return {k: self[k] * float(avail[k]) for k in RESOURCES}

    def load(self, util: Mapping[str, float]) -> float:
        """The largest utilisation over its share (> 1: over the limit), over the resources in ``util``."""
        return max((float(u) / self[k] for k, u in util.items() if k in RESOURCES), default=0.0)

    def over(self, util: Mapping[str, float]) -> Dict[str, float]:
        """{resource: utilisation / share} of the resources over their share."""
        return {k: float(u) / self[k] for k, u in util.items() if k in RESOURCES and u > self[k] + TOLERANCE}

    def as_json(self) -> Union[float, Dict[str, float]]:
        """A number when uniform and no resource is named, else ``{"all": the share of the others, resource:
        share, ...}`` as given (:meth:`of` reads both)."""
        if self.named:
            return {EVERY: self.default, **{LABELS[k]: self[k] for k in self.named}}
        if self.uniform:
            return self.shares[0]
        common = self.common
        return {EVERY: common, **{LABELS[k]: s for k, s in zip(RESOURCES, self.shares) if s != common}}

    def text(self) -> str:
        """The ``--max-util`` value that gives this limit."""
        got = self.as_json()
        return f"{got:g}" if not isinstance(got, dict) else ",".join(
            f"{v:g}" if k == EVERY else f"{k}={v:g}" for k, v in got.items())

    def describe(self) -> str:
        """'80% of each resource', or '25% of the DSPs, 80% of the others'."""
        if self.uniform:
            return f"{percent(self.shares[0])} of each resource"
        common = self.common
        named = [f"{percent(s)} of the {LABELS[k]}s" for k, s in zip(RESOURCES, self.shares) if s != common]
        return ", ".join(named) + f", {percent(common)} of the others"


    def shares_of(self, resources) -> str:
        """'80% of the DSP/LUT' (one share), '25% of the DSP / 80% of the LUT' (shares per resource), '80% of
        the budget' (none named)."""
        if not resources:
            return f"{percent(self.common)} of the budget"
        if self.uniform:
            return f"{percent(self.common)} of the {'/'.join(k.upper() for k in resources)}"
        return " / ".join(f"{percent(self[k])} of the {k.upper()}" for k in resources)


def percent(share: float) -> str:
    """0.8 -> '80%', 0.0397 -> '3.97%'."""
    return f"{100 * share:.3g}%"
