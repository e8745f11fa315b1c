"""A sweep's device files: what each held when the sweep started, recorded in its ``spec.yaml``
(``device_files``), so that ``--resume`` never keeps rows priced on numbers a file no longer holds
(:mod:`codesign.sim.device_record`: a device file is identified by its content)."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from ..errors import ConfigError
from .spec import SweepSpec, devices_of


def recorded_device_files(spec: SweepSpec) -> Dict[str, Dict[str, Any]]:
    """{device file of the axis: what it holds now}, what a sweep records in its spec.yaml."""
    from ..sim.device_record import is_file, recorded

    return {d: recorded(d) for d in devices_of(spec) if is_file(d)}


def changed_device_file(recorded_files: Optional[Dict[str, Any]], spec: SweepSpec) -> Optional[Tuple[str, str]]:
    """(file, what changed) for the first device file of the axis that holds other numbers than
    ``recorded_files`` says it held (:mod:`codesign.sim.device_record`); None when none changed. A file that is
    not recorded (a sweep from before files were recorded) is taken as it is."""
    from ..sim.device_record import changes, identity, recorded

    for device in devices_of(spec):
        old = (recorded_files or {}).get(device)
        if isinstance(old, dict) and identity(old) != identity(device):
            return device, changes(old, recorded(device))
    return None


def check_device_files(spec: SweepSpec, src: str) -> None:
    """A device on the axis is a name or a file (a recorded device, a mapping, is what a run keeps of a file, not
    an axis value), and a spec that records device files (a sweep's spec.yaml) runs only on what they held."""
    devices = devices_of(spec)
    if any(isinstance(d, dict) for d in devices):
        raise ConfigError(f"{src}: the recipe's target.device is a device recorded by a run (a mapping); a sweep's "
                          f"device axis takes shipped names and device files: give grid.device")
    changed = changed_device_file(spec.device_files, spec)
    if changed:
        raise ConfigError(f"{src}: device_files records what each device file held when its sweep started, and "
                          f"{changed[0]} has changed since ({changed[1]}); restore the file, or remove device_files")
