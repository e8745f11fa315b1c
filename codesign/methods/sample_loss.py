"""The loss of a model on a fixed sample of the run's training data: how budget pruning judges its choices."""
from __future__ import annotations

from typing import Callable, Optional

import torch

SAMPLES = 2048
SALT = 0x5A17


def sample_loss(ctx, samples: int = SAMPLES) -> Optional[Callable[[torch.nn.Module], float]]:
    """``model -> mean loss`` on ``samples`` training samples drawn once from the run's seeded stream (the same
    on a resume), in eval mode; None outside a training loop (no data)."""
    if ctx.train_samples == 0:
        return None
    x, y = ctx.train_data
    idx = torch.randperm(len(y), generator=ctx.generator(SALT))[:samples]
    x, y = x[idx], y[idx]
    size = ctx.eval_batch_size

    def judge(model: torch.nn.Module) -> float:
        was_training = model.training
        model.eval()
        total = 0.0
        with torch.no_grad():
            for i in range(0, len(y), size):
                total += float(ctx.loss(model(x[i:i + size]), y[i:i + size], reduction="sum"))
        model.train(was_training)
        ctx.charge_forward(len(y))
        return total / len(y)

    return judge
