"""The PyTorch layer types codesign computes with, defined once for every stage.

Unit tracing (units/graph.py), masks and resizing (units/masks.py, units/resize.py), FLOP
accounting (flops.py) and compaction (compact.py) all read these tuples, so a layer type is
supported everywhere or nowhere.
"""
from __future__ import annotations

import torch.nn as nn

CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
COMPUTE = CONVS + (nn.Linear,)                                  # weights that cost multiply-accumulates
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)        # per-channel state that follows its units
RESIZABLE = COMPUTE + (nn.modules.batchnorm._BatchNorm,)         # what growth and pruning reallocate
