"""Training-loop overhead: codesign.fit() vs a plain hand-written PyTorch loop, same run.

LeNet-300-100 on real MNIST (60,000 images), batch 128, SGD with momentum, one epoch each,
alternating the two loops `--repeats` times; reports the median samples/s of each and the ratio.
Only the optimisation steps are timed (no evaluation) in both loops.

    python benchmarks/train_loop_overhead.py [--repeats 5] [--dataset mnist]
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from codesign.config import load_recipe
from codesign.data import load_dataset
from codesign.train import fit
from codesign.zoo import create_model

from common import median, save


def plain_loop(splits, batch_size: int, seed: int) -> float:
    torch.manual_seed(seed)
    model = create_model("lenet300_100")
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    x_all, y_all = splits.train
    order = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(seed))
    model.train()
    start = time.perf_counter()
    for i in range(0, len(order), batch_size):
        index = order[i:i + batch_size]
        x, y = x_all[index], y_all[index]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()
    return len(order) / (time.perf_counter() - start)


def codesign_loop(splits, batch_size: int, seed: int) -> float:
    recipe = load_recipe(None, {"model.name": "lenet300_100", "data.name": splits.spec.name, "train.epochs": 1,
                                "train.batch_size": batch_size, "train.seed": seed, "optim.lr": 0.05,
                                "optim.weight_decay": 1e-4, "schedule.name": "constant"})
    marks = {}

    def events(kind, payload):
        if kind == "start":
            marks["start"] = time.perf_counter()
        elif kind == "step":
            marks["last_step"] = time.perf_counter()

    fit(recipe, None, splits=splits, events=events)
    return len(splits.train[1]) / (marks["last_step"] - marks["start"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    splits = load_dataset(args.dataset)
    ours, plain = [], []
    for r in range(args.repeats):
        plain.append(plain_loop(splits, args.batch_size, r))
        ours.append(codesign_loop(splits, args.batch_size, r))
        print(f"repeat {r + 1}: plain {plain[-1]:,.0f} samples/s, codesign {ours[-1]:,.0f} samples/s", flush=True)
    result = {"dataset": args.dataset, "batch_size": args.batch_size, "repeats": args.repeats,
              "plain_samples_per_s": median(plain), "codesign_samples_per_s": median(ours),
              "ratio": median(ours) / median(plain), "all_plain": plain, "all_codesign": ours}
    print(f"median: plain {result['plain_samples_per_s']:,.0f}/s, codesign {result['codesign_samples_per_s']:,.0f}/s, "
          f"ratio {result['ratio']:.3f} (target >= 0.9)")
    save("train_loop_overhead", result)


if __name__ == "__main__":
    main()
