"""Optimisers and learning-rate schedules (a pure function of the epoch, so resuming needs no
scheduler state and an optimiser rebuilt after growth keeps the right rate)."""
from __future__ import annotations

import math
from typing import Iterable

import torch

from .config import OptimCfg, ScheduleCfg


def make_optimizer(params: Iterable[torch.nn.Parameter], cfg: OptimCfg) -> torch.optim.Optimizer:
    params = [p for p in params if p.requires_grad]
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               nesterov=cfg.nesterov and cfg.momentum > 0)
    if cfg.name == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def lr_at(epoch_progress: float, total_epochs: int, base_lr: float, cfg: ScheduleCfg) -> float:
    """Learning rate at a fractional epoch (0 ≤ epoch_progress < total_epochs)."""
    if cfg.warmup_epochs and epoch_progress < cfg.warmup_epochs:
        return base_lr * (epoch_progress + 1e-3) / cfg.warmup_epochs
    epoch = int(epoch_progress)
    if cfg.name == "constant":
        lr = base_lr
    elif cfg.name == "step":
        lr = base_lr * cfg.gamma ** (epoch // cfg.step_size)
    elif cfg.name == "multistep":
        lr = base_lr * cfg.gamma ** sum(epoch >= m for m in cfg.milestones)
    else:
        span = max(1e-9, total_epochs - cfg.warmup_epochs)
        t = min(1.0, (epoch_progress - cfg.warmup_epochs) / span)
        lr = cfg.min_lr + 0.5 * (base_lr - cfg.min_lr) * (1 + math.cos(math.pi * t))
    return max(lr, cfg.min_lr) if cfg.name != "cosine" else lr


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
