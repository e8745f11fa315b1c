"""Golden reports: a small CNN's full report JSON for every shipped device and both templates is checked
in under tests/sim/golden/; any change of a formula, constant or source text shows up here.

Regenerate after an intended change:  CODESIGN_UPDATE_GOLDEN=1 pytest tests/sim/test_golden.py
"""
import json
import math
import os
from pathlib import Path

import pytest

from codesign.sim import estimate
from codesign.sim.device import shipped_device_names

GOLDEN = Path(__file__).with_name("golden")
UPDATE = os.environ.get("CODESIGN_UPDATE_GOLDEN") == "1"


def _close(a, b, path="report"):
    if isinstance(a, dict):
        assert set(a) == set(b), f"{path}: keys differ: {sorted(set(a) ^ set(b))}"
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        assert (a is None) == (b is None) and (a is None or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)), \
            f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


@pytest.mark.parametrize("template", ["dataflow", "tiled"])
@pytest.mark.parametrize("device", shipped_device_names())
def test_golden_report(nets, device, template):
    net = nets.chain_cnn((4, 8), size=16, zeros=0.25, name="golden_cnn")
    data = estimate(net, device, template=template, reuse_factor=2).to_dict()
    data.pop("codesign_version")
    path = GOLDEN / f"{device}-{template}.json"
    if UPDATE or not path.exists():
        if not UPDATE:
            pytest.fail(f"{path.name} missing; generate it with CODESIGN_UPDATE_GOLDEN=1")
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    _close(data, json.loads(path.read_text()))
