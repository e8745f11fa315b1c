"""The loss budget pruning judges its exchanges by (codesign.methods.sample_loss)."""
from __future__ import annotations

import torch
import torch.nn as nn

from codesign.methods.base import MethodContext, Progress, RunData
from codesign.methods.sample_loss import SALT, sample_loss


def _ctx(epoch: int = 2, n: int = 3000) -> MethodContext:
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 8, generator=g), torch.randint(0, 3, (n,), generator=g)
    model = nn.Sequential(nn.Linear(8, 3))
    return MethodContext(model, lambda: None, seed=5, progress=Progress(epoch=epoch),
                         data=RunData(train=(x, y), evaluate=lambda split: (0.0, 0.0), eval_batch_size=500))


def test_the_sample_is_fixed_by_seed_and_epoch_and_leaves_the_model_as_it_was():
    """The same loss for the same run and epoch (a resumed run judges alike), the cross-entropy of a fixed
    2,048-sample draw, in eval mode, with the model's mode restored."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.5), nn.Linear(16, 3)).train()
    first, again = sample_loss(_ctx())(model), sample_loss(_ctx())(model)
    assert first == again and model.training                      # dropout off while judging, back on after
    ctx = _ctx()
    x, y = ctx.train_data
    idx = torch.randperm(len(y), generator=ctx.generator(SALT))[:2048]
    with torch.no_grad():
        expected = float(nn.functional.cross_entropy(model.eval()(x[idx]), y[idx]))
    assert abs(first - expected) < 1e-5
    assert sample_loss(_ctx(epoch=3))(model) != first


def test_no_judge_outside_a_training_loop():
    assert sample_loss(MethodContext(nn.Linear(2, 2), lambda: None, seed=0)) is None
