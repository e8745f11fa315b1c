"""Knowledge distillation (Hinton, Vinyals, Dean 2015): the student learns from a trained teacher's
softened outputs as well as from the labels.

A recipe's ``train.distill: {teacher: RUN_OR_MODEL_FILE, temperature: T, weight: w}`` makes the loss
``(1 − w)·CE(student, labels) + w·T²·KL(softmax(teacher/T) ‖ softmax(student/T))`` on every training batch
(the augmented batch the student sees). The T² keeps the soft term's gradients on the scale of the hard
term's. Small and sparse students gain most: the teacher's relative probabilities of the wrong classes
carry what a one-hot label does not. The teacher is any model file ``codesign`` reads (a ``codesign train``
run directory or its ``train/model.pt``, a compacted model) with the student's input shape and classes;
it runs in evaluation mode, frozen, and its forward passes are charged to the run's training FLOPs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import CodesignError, ConfigError


@dataclass
class Teacher:
    model: nn.Module
    temperature: float
    weight: float
    flops_per_sample: float          # one forward pass, dense convention

    def loss(self, student_out: torch.Tensor, x: torch.Tensor, data_loss: torch.Tensor) -> torch.Tensor:
        """The blended loss of a training batch ``x`` whose student outputs are ``student_out``."""
        with torch.no_grad():
            soft = F.log_softmax(self.model(x) / self.temperature, dim=1)
        kl = F.kl_div(F.log_softmax(student_out / self.temperature, dim=1), soft, reduction="batchmean",
                      log_target=True)
        return (1.0 - self.weight) * data_loss + self.weight * self.temperature ** 2 * kl


def load_teacher(cfg, in_shape: Sequence[int], num_classes: int) -> Teacher:
    """The frozen teacher of a recipe's ``train.distill`` section (a clear error if it does not fit the run)."""
    from .checkpoint import load_model
    from .compaction import resolve_model_file
    from .flops import measure, output_positions

    path, _ = resolve_model_file(cfg.teacher)
    try:
        model, _ = load_model(path)
    except CodesignError as err:          # the loader's advice (delete a damaged checkpoint) is not for a teacher
        raise ConfigError(f"train.distill.teacher {cfg.teacher}: not a model file codesign reads "
                          f"({str(err).split(';')[0]}); pass a `codesign train` run directory or its "
                          f"train/model.pt") from None
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, *in_shape))
    except Exception as err:            # noqa: BLE001 - any failure means the shapes do not match
        raise ConfigError(f"train.distill.teacher {cfg.teacher}: it does not take this run's input "
                          f"{tuple(in_shape)} ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
                          ) from None
    if out.dim() != 2 or out.shape[1] != num_classes:
        raise ConfigError(f"train.distill.teacher {cfg.teacher}: its output has shape {tuple(out.shape)}, "
                          f"this run has {num_classes} classes")
    flops = measure(model, output_positions(model, in_shape)).flops_dense
    return Teacher(model, float(cfg.temperature), float(cfg.weight), float(flops))

