"""How a layer is named: one rule for ``codesign export`` (ONNX nodes) and ``codesign simulate`` (torch.fx
nodes), so per-layer settings, precision plans and reports name the same layer the same way.

A layer is named after the PyTorch module it runs in (its *scope*, as torch.onnx records it):

- an op that is the only one of a module without submodules takes the module's path (``block.c1``);
- an op in a container module takes the module's path and its ONNX op type (``block.relu``, ``block.add``);
- an op outside any module takes its op type (``relu``);
- a name taken already gets ``_2``, ``_3``, ... in graph order (``block.relu_2``: the second ``F.relu``
  in ``block``).

The dotted name is the PyTorch-style one users write; its C identifier (``block_relu_2``) is the name of the
hls4ml layer. A module called again runs in scope ``<path>_<k>`` (``act_1``: its second call), as torch.onnx
writes it (:func:`call_scope`).
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple


def c_identifier(name: str) -> str:
    """'layers.0.conv1' → 'layers_0_conv1' (what hls4ml and C++ accept)."""
    out = re.sub(r"[^0-9A-Za-z_]", "_", name)
    return out if out and not out[0].isdigit() else f"l_{out}"


def call_scope(path: str, call: int) -> str:
    """The scope torch.onnx gives the ``call``-th call (0: the first) of the module at ``path``: ``act``,
    ``act_1``, ``act_2``, ..."""
    return path if call == 0 else f"{path}_{call}"


def op_names(ops: Sequence[Tuple[Optional[str], str]]) -> List[Tuple[str, str]]:
    """(scope or None, ONNX op type) of every op in graph order → its (C identifier, dotted name)."""
    scopes = [scope for scope, _ in ops]
    parents = {s.rsplit(".", 1)[0] for s in scopes if s and "." in s}
    per_scope: Dict[Optional[str], int] = {}
    for s in scopes:
        per_scope[s] = per_scope.get(s, 0) + 1
    taken: set = set()
    out = []
    for scope, op_type in ops:
        if scope and scope not in parents and per_scope[scope] == 1:
            base = scope
        elif scope:
            base = f"{scope}.{op_type.lower()}"
        else:
            base = op_type.lower()
        dotted, k = base, 1
        while c_identifier(dotted) in taken:
            k += 1
            dotted = f"{base}_{k}"
        taken.add(c_identifier(dotted))
        out.append((c_identifier(dotted), dotted))
    return out
