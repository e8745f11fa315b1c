"""The hardware a model file was trained for (``codesign train --fit``): the export's defaults for it.

A model trained to a budget is one the export folds to fit only when the export folds it as the budget
did: the same part and clock, strategy, io type, precision, sparse-kernel choice, utilisation shares and
latency bound, with ``--reuse-factor auto``. Exporting such a file, every one of these the command line
leaves out is taken from the run's ``target:`` section (what the model file records of its recipe); a flag
given wins.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional


def trained_for(checkpoint: Optional[Path]) -> Dict[str, Any]:
    """{export setting: the value the model file's training budget used}; empty when it trained for none."""
    if checkpoint is None:
        return {}
    from ..checkpoint import read
    from ..config import TargetCfg, validate
    from ..errors import CodesignError
    from ..methods.budget import spec_from_target
    from ..sim import load_device

    try:
        recipe = read(checkpoint).get("recipe")
    except CodesignError:               # a missing or damaged file: the export's own checks say so, in order
        return {}
    target = (recipe or {}).get("target") or {}
    if not target.get("fit"):
        return {}
    spec = spec_from_target(validate(TargetCfg, target, f"{checkpoint}: the recipe's target"))
    device = load_device(spec.device)
    return {"device": spec.device, "part": device.part, "clock_period": spec.clock_period_ns or 1000.0 / device.clock_mhz,
            "reuse_factor": "auto", "strategy": spec.strategy, "io_type": spec.io_type,
            "sparse_kernel": spec.sparse_kernel, "max_util": spec.max_util.as_json(),
            "max_latency_us": spec.max_latency_us, "precision": spec.precision}
