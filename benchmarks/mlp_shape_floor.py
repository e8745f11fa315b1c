"""How low can a small MLP's MNIST test error go at a given shape? The floor behind issue 18's NPN target.

    python benchmarks/mlp_shape_floor.py --shape 447 47 70 [--optimizer sgd] [--epochs 20] [--seed 0]

NPN sparsification of LeNet-300-100 is structured: it keeps whole input pixels and whole neurons, so
its result is a dense MLP P-H1-H2-10 on P of the 784 pixels. This trains such a network from scratch
(no gates, no pruning) on P pixels (the P of highest variance over the training images), with the dense
recipe's training (SGD 0.05, momentum 0.9, weight decay 1e-4, cosine over every step, batch 128, all
60,000 training images) or Adam 1e-3 at a constant rate, and prints its weight count, the compression
against LeNet-300-100's 266,200 weights, and the test error on the 10,000 test images. If the shapes
NPN finds cannot reach an error from scratch, NPN's own run of that shape is not expected to either.
"""
from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from codesign.data import load_dataset

DENSE_WEIGHTS = 784 * 300 + 300 * 100 + 100 * 10


def train(pixels: int, h1: int, h2: int, optimizer: str, epochs: int, seed: int) -> dict:
    torch.manual_seed(seed)
    splits = load_dataset("mnist", split_seed=seed)
    (xtr, ytr), (xte, yte) = splits.train, splits.test
    xtr, xte = xtr.reshape(len(xtr), -1), xte.reshape(len(xte), -1)
    keep = xtr.var(0).argsort(descending=True)[:pixels]
    xtr, xte = xtr[:, keep], xte[:, keep]
    model = nn.Sequential(nn.Linear(pixels, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(), nn.Linear(h2, 10))
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * math.ceil(len(ytr) / 128))
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        sched = None
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(ytr))
        for i in range(0, len(ytr), 128):
            batch = order[i:i + 128]
            loss = F.cross_entropy(model(xtr[batch]), ytr[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
    with torch.no_grad():
        error = 100 * (model(xte).argmax(1) != yte).float().mean().item()
    weights = pixels * h1 + h1 * h2 + h2 * 10
    return {"weights": weights, "compression": DENSE_WEIGHTS / weights, "error": error,
            "seconds": time.perf_counter() - t0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", type=int, nargs=3, required=True, metavar=("PIXELS", "H1", "H2"))
    p.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    r = train(*args.shape, args.optimizer, args.epochs, args.seed)
    print(f"{'-'.join(map(str, args.shape))}-10, {args.optimizer}, {args.epochs} epochs, seed {args.seed}: "
          f"{r['weights']:,} weights ({r['compression']:.1f}x), test error {r['error']:.2f}% ({r['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
