"""Users' device files for tests: a copy of a shipped device YAML with a new name and other numbers."""
from __future__ import annotations

from pathlib import Path
from typing import Optional


def device_file(path: Path, name: str = "mine", part: Optional[str] = None, base: str = "xc7z020",
                **resources: int) -> Path:
    """Write the shipped ``base`` device as ``name`` (no aliases) to ``path``, with ``part`` and resource
    counts (``dsp=40``, ``lut=20_000``) replaced where given; returns ``path``."""
    import yaml

    from codesign.sim.device import _package_dir

    data = yaml.safe_load((_package_dir() / f"{base}.yaml").read_text())
    data.update(name=name, aliases=[])
    if part is not None:
        data["part"] = part
    for key, value in resources.items():
        data["resources"][key]["value"] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
