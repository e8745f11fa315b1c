"""Cost accounting: parameters, nonzeros and forward FLOPs of a model at its *current* size.

Convention (stated in every report): FLOPs = 2 × multiply-accumulates of Conv (1-D, 2-D, 3-D) and Linear
layers
(BatchNorm, activations, pooling and additions are not counted; they are < 1% for the zoo).
*Dense-structural* FLOPs count every weight of the current tensors (what a dense engine runs
after compaction); *sparse* FLOPs count only nonzero weights (what a zero-skipping engine runs).
A training step costs 3× the forward FLOPs per sample (forward, input gradients, weight gradients).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Dict, Sequence

import torch
import torch.nn as nn

from .layertypes import COMPUTE as COMPUTE_LAYERS
TRAIN_FLOPS_PER_FORWARD = 3.0


@dataclass(frozen=True)
class ModelCost:
    params: int
    nonzeros: int
    flops_dense: float      # per sample, forward
    flops_sparse: float     # per sample, forward

    def as_dict(self) -> dict:
        return asdict(self)


def output_positions(model: nn.Module, in_shape: Sequence[int]) -> Dict[str, int]:
    """Number of output positions (H_out·W_out; 1 for Linear) of every compute layer, by name.

    Depends only on spatial shapes, which pruning and growth of channels never change, so it is
    computed once per architecture with a single forward pass of a zero input."""
    positions: Dict[str, int] = {}
    hooks = []
    for name, module in model.named_modules():
        if isinstance(module, COMPUTE_LAYERS):
            def hook(mod, _inp, out, name=name):
                positions[name] = int(out[0].numel() // out.shape[1]) if out.dim() > 2 else 1
            hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            first = next(model.parameters(), None)
            model(torch.zeros(1, *in_shape, dtype=first.dtype if first is not None else torch.float32))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return positions


def measure(model: nn.Module, positions: Dict[str, int]) -> ModelCost:
    params = nonzeros = 0
    for p in model.parameters():
        params += p.numel()
        nonzeros += int(torch.count_nonzero(p.detach()))
    dense = sparse = 0.0
    for name, module in model.named_modules():
        if isinstance(module, COMPUTE_LAYERS) and name in positions:
            w = module.weight.detach()
            dense += 2.0 * positions[name] * w.numel()
            sparse += 2.0 * positions[name] * int(torch.count_nonzero(w))
    return ModelCost(params, nonzeros, dense, sparse)


def model_cost(model: nn.Module, in_shape: Sequence[int]) -> ModelCost:
    return measure(model, output_positions(model, in_shape))
