"""Dense baselines on real MNIST with the shipped recipes: test accuracy, epochs and wall-clock.

    codesign data fetch mnist
    python benchmarks/train_accuracy.py [--seeds 0 1 2]

Targets (issue 2): LeNet-5 >= 99.0%, LeNet-300-100 >= 98.0% test accuracy.
"""
from __future__ import annotations

import argparse
import tempfile
import time

from codesign.config import load_recipe
from codesign.train import fit

from common import median, save

TARGETS = {"lenet5_mnist": 0.990, "lenet300_100_mnist": 0.980}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--recipes", nargs="+", default=list(TARGETS))
    args = parser.parse_args()
    results = {}
    for name in args.recipes:
        runs = []
        for seed in args.seeds:
            recipe = load_recipe(name, {"train.seed": seed})
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as tmp:
                res = fit(recipe, tmp)
            runs.append({"seed": seed, "test_acc": res.summary["test_acc"], "epochs": res.summary["epochs"],
                         "wall_s": time.perf_counter() - t0})
            print(f"{name} seed {seed}: test_acc {runs[-1]['test_acc']:.4f} in {runs[-1]['epochs']} epochs, "
                  f"{runs[-1]['wall_s']:.0f} s", flush=True)
        accs = [r["test_acc"] for r in runs]
        results[name] = {"runs": runs, "median_test_acc": median(accs), "min_test_acc": min(accs),
                         "target": TARGETS.get(name), "median_wall_s": median([r["wall_s"] for r in runs])}
    save("train_accuracy", results)


if __name__ == "__main__":
    main()
