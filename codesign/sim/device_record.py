"""A device as a run records it: a shipped device by its name, a device file by what the file holds.

A device YAML can change after a run used it (its DSP count edited), and a relative path names another file
in another folder. So what a run trains for, prices or folds on a device *file* is identified by the file's
content: the recipe's ``target.device`` in ``config.yaml`` and the checkpoint becomes the mapping the file held
(it loads anywhere: :func:`codesign.sim.device.load_device` takes it), a sweep's ``spec.yaml`` records each
device file of its grid (``device_files``), and a resumed run or sweep compares contents, naming what changed.
A shipped device stays its name, as before (``pynq-z2`` and ``xc7z020`` are one device).

The identity (:func:`digest`) is what any estimate, folding or export reads: the names, part, numbers and
units, not the ``source``/``confidence`` notes, board, description or aliases (fixing a source's typo is
not another device).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Dict, Mapping, Tuple, Union

from ..errors import CodesignError
from .device import Device, load_device, names_file

#: what a device's identity leaves out: notes on where a number comes from, and names for people
NOTES = ("source", "confidence")
PEOPLE_ONLY = ("board", "description", "aliases")


def is_file(value: Any) -> bool:
    """Whether ``value`` names a device by its content: a device YAML's path, or a recorded device (a mapping)."""
    if isinstance(value, Device):
        return False
    return isinstance(value, Mapping) or (isinstance(value, str) and names_file(value))


def recorded(value: Any) -> Union[str, Dict[str, Any]]:
    """What a run records of a device: a device file's content (read now), a shipped name as it is."""
    if isinstance(value, Device):
        return dict(value.content)
    return dict(load_device(value).content) if is_file(value) else value


def essence(content: Mapping[str, Any]) -> Dict[str, Any]:
    """``content`` without what no estimate reads (notes and names for people), flattened: {'resources.dsp':
    (220.0, 'count'), ...}."""
    out: Dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, Mapping) and "value" in node and "unit" in node:
            out[prefix] = (node["value"], node["unit"])
        elif isinstance(node, Mapping):
            for key, child in node.items():
                if key not in NOTES and not (not prefix and key in PEOPLE_ONLY):
                    walk(f"{prefix}.{key}" if prefix else str(key), child)
        else:
            out[prefix] = node

    walk("", content)
    return out


def digest(device: Union[Device, Mapping[str, Any]]) -> str:
    """A short hash of a device's identity (:func:`essence`), the same for a file and its recorded content."""
    content = device.content if isinstance(device, Device) else device
    text = json.dumps(essence(content), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def identity(value: Any) -> Tuple[str, str]:
    """What two records of a device are compared by: a file's (or recorded device's) content digest, a shipped
    device's file (so its aliases are one device); a device that does not load keeps its text."""
    try:
        device = load_device(value)
    except CodesignError:
        return ("unreadable", str(value))
    return ("content", digest(device)) if is_file(value) else ("shipped", device.path)


def changes(old: Mapping[str, Any], new: Mapping[str, Any], most: int = 3) -> str:
    """What differs between two device contents: 'resources.dsp 40 → 400 count, clock.default 100 → 125 MHz'."""
    a, b = essence(old), essence(new)
    said = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) == b.get(key):
            continue
        if key not in a or key not in b:
            said.append(f"{key} {'added' if key not in a else 'removed'}")
        else:
            said.append(f"{key} {_shown(a[key], b[key])}")
    more = f" and {len(said) - most} more" if len(said) > most else ""
    return ", ".join(said[:most]) + more


def _shown(old: Any, new: Any) -> str:
    if isinstance(old, tuple) and isinstance(new, tuple):
        (v0, u0), (v1, u1) = old, new
        return f"{_num(v0)} {u0} → {_num(v1)} {u1}" if u0 != u1 else f"{_num(v0)} → {_num(v1)} {u1}"
    return f"{old!r} → {new!r}"


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def label(value: Any) -> str:
    """A device as a message names it: its name or path, or for a recorded device its name and that it was
    recorded."""
    if isinstance(value, Mapping):
        return f"{value.get('name', '?')} (as recorded by the run)"
    return value.name if isinstance(value, Device) else str(value)


def described(value: Any, device: Device) -> str:
    """How a device was chosen, as a report says it: 'device dev/x.yaml (mine, part ...)', or for a device file's
    recorded content 'device mine, the recorded content of a device file (part ...)'."""
    if isinstance(value, Mapping):
        return f"device {device.name}, the recorded content of a device file (part {device.part})"
    return f"device {value} ({device.name}, part {device.part})"
