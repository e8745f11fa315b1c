"""What `reproduce.py` runs: the experiments of the results tables and the papers' reported numbers.

Each :class:`Experiment` is one row of a table: a shipped recipe (models/*.yaml) plus overrides
(dotted recipe keys, as `codesign train --set`), the seeds to run, and what the paper reports.
The list is in priority order: a time-boxed run finishes the first rows first (headline seeds
before extra seeds). ``quick`` mode keeps the same rows but scales epochs and data down.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

NOT_RETRIEVED = "n/r"   # the paper's number is not in its retrieved text (abstract only; docs/references.md)

# reported numbers (docs/references.md): error %, compression x (params), FLOPs remaining, source
HAN = "Han et al. 2015, Table 1"
NEST = "NeST (Dai, Yin, Jha), abstract v3"
PAPER: Dict[Tuple[str, str], Dict[str, Any]] = {
    ("lenet300_100", "dense"): {"error": 1.64, "source": HAN + " (reference model)"},
    ("lenet300_100", "magnitude"): {"error": 1.59, "compression": 12.0, "flops_left": 0.08, "source": HAN},
    ("lenet300_100", "nest"): {"compression": 70.2, "flops_left": 1 / 79.4, "source": NEST},
    ("lenet5", "dense"): {"error": 0.80, "source": HAN + " (reference model)"},
    ("lenet5", "magnitude"): {"error": 0.77, "compression": 12.0, "flops_left": 0.16, "source": HAN},
    ("lenet5", "nest"): {"compression": 74.3, "flops_left": 1 / 43.7, "source": NEST},
}
# the issues' moonshots (7, 18): compression >= x at test error <= e (%), mean over the seeds
TARGETS = {"lenet300_100": (70.0, 1.6), "lenet5": (111.0, 0.9)}
# NPN sparsify (issue 18): >= 10x fewer nonzero parameters within 0.3 points of the dense row's error
NPN_TARGET = {"compression": 10.0, "pp": 0.3}
# unstructured state of the art on the same tasks (SparseVD authors' README; docs/references.md#other-published-numbers-worth-knowing): x, error %, who
STATE_OF_THE_ART = {"lenet300_100": (68.0, 1.92, "SparseVD"), "lenet5": (280.0, 0.75, "SparseVD")}
INCREMENTAL_PAPER = {"lenet300_100": {"scratch": 0.64, "finetune": 0.63, "gp_scratch": 0.69},
                     "lenet5": {"scratch": 0.67, "finetune": 0.63, "gp_scratch": 0.73}}
INCREMENTAL_TARGET = {"scratch": 0.64, "finetune": 0.63}


@dataclass(frozen=True)
class Experiment:
    name: str                     # row id (file names): <name>_s<seed>
    table: str                    # mnist | incremental | cnn | resnet110
    model: str
    method: str
    recipe: Optional[str] = None
    overrides: Dict[str, Any] = field(default_factory=dict)
    seeds: Tuple[int, ...] = (0,)
    csim: bool = True
    label: str = ""
    extra: Dict[str, Any] = field(default_factory=dict)   # incremental: first-run / update overrides
    teacher: Optional[str] = None  # distilled rows: the experiment whose seed-0 model teaches every seed
    dense_row: Optional[str] = None  # the dense row an NPN row's error bound refers to (default: the plain one)

    def runs(self) -> List[Tuple["Experiment", int]]:
        return [(self, s) for s in self.seeds]


def _m(method: str, **params) -> Dict[str, Any]:
    return {"method.name": method, **{f"method.params.{k}": v for k, v in params.items()}}


NPN_MLP = {"optim.name": "adam", "optim.lr": 1e-3, "optim.weight_decay": 0.0, "schedule.name": "multistep",
           "schedule.milestones": [16], "data.val_fraction": 0.1}
# Distilled rows (codesign/distill.py): random 2-pixel shifts and a dense LeNet-5 trained with them as the
# teacher (seed 0 teaches every seed); the loss is 0.1·CE + 0.9·16·KL at temperature 4. Their dense row is
# trained the same way, so a bound relative to the dense error compares like with like.
TEACHER = "l5_teacher"
TAUGHT = {"data.augment": "shift", "train.distill": {"temperature": 4.0, "weight": 0.9}}
SEEDS = (0, 1, 2)        # every row (issue 18): mean of three seeds
CSIM_SEED = 0            # the seed whose model is exported and C-simulated
MNIST: List[Experiment] = [
    Experiment("l300_dense", "mnist", "lenet300_100", "dense", "lenet300_100_mnist"),
    Experiment("l300_nest", "mnist", "lenet300_100", "nest", "lenet300_100_nest_mnist"),
    Experiment("l300_dense_kd", "mnist", "lenet300_100", "dense (shift, distilled)", "lenet300_100_mnist", TAUGHT,
               teacher=TEACHER),
    Experiment("l300_nest_kd", "mnist", "lenet300_100", "nest (shift, distilled)", "lenet300_100_nest_kd_mnist",
               teacher=TEACHER),
    Experiment("l300_magnitude", "mnist", "lenet300_100", "magnitude", "lenet300_100_magnitude_mnist"),
    Experiment("l300_relief", "mnist", "lenet300_100", "relief", "lenet300_100_relief_mnist"),
    Experiment("l300_rigl", "mnist", "lenet300_100", "rigl", "lenet300_100_rigl_mnist"),
    Experiment("l300_cgap", "mnist", "lenet300_100", "cgap", "lenet300_100_mnist",
               {**_m("cgap", seed_width=0.125, growth_ratio=0.5, patience=2, prune_ratio=0.4),
                "data.val_fraction": 0.1}),
    Experiment("l300_npn_sparsify", "mnist", "lenet300_100", "npn sparsify", "lenet300_100_npn_sparsify_mnist"),
    Experiment("l300_npn_sparsify_kd", "mnist", "lenet300_100", "npn sparsify (shift, distilled)",
               "lenet300_100_npn_sparsify_mnist", TAUGHT, teacher=TEACHER, dense_row="l300_dense_kd"),
    Experiment("l300_npn_expand", "mnist", "lenet300_100", "npn expand", "lenet300_100_mnist",
               {**_m("npn", mode="expand", k=1, init_size=3, expand_by=30, fill=3.0, lam=0.1), **NPN_MLP}),
    Experiment("l5_dense", "mnist", "lenet5", "dense", "lenet5_mnist"),
    Experiment(TEACHER, "mnist", "lenet5", "dense (shift): the teacher", "lenet5_mnist", {"data.augment": "shift"},
               csim=False),
    Experiment("l5_nest", "mnist", "lenet5", "nest", "lenet5_nest_mnist"),
    Experiment("l5_cgap", "mnist", "lenet5", "cgap", "lenet5_cgap_mnist"),
    Experiment("l5_magnitude", "mnist", "lenet5", "magnitude", "lenet5_mnist",
               _m("magnitude", target_density=0.08, structure="unstructured", scope="global", iterations=4,
                  pretrain_epochs=4)),
    Experiment("l5_relief", "mnist", "lenet5", "relief", "lenet5_relief_mnist"),
    Experiment("l5_rigl", "mnist", "lenet5", "rigl", "lenet5_mnist", _m("rigl", density=0.05)),
    Experiment("l5_npn_sparsify", "mnist", "lenet5", "npn sparsify", "lenet5_npn_sparsify_mnist"),
    Experiment("l5_npn_expand", "mnist", "lenet5", "npn expand", "lenet5_npn_expand_mnist"),
]
MNIST = [Experiment(**{**e.__dict__, "seeds": (0,) if e.name == TEACHER else SEEDS}) for e in MNIST]


def by_name(name: str) -> Experiment:
    return next(e for e in MNIST if e.name == name)
# the rows issue 18 sets targets for: run first (a time-boxed run finishes them before the others' extra seeds)
HEADLINE = ("l300_dense", "l300_nest", "l300_npn_sparsify", "l5_dense", "l5_nest", "l5_npn_sparsify",
            "l300_dense_kd", "l300_nest_kd", "l300_npn_sparsify_kd")

INCREMENTAL = [Experiment(
    "inc_l300", "incremental", "lenet300_100", "nest", "lenet300_100_nest_mnist", csim=False,
    extra={"old": {"train.epochs": 30, "method.params.growth_epochs": 6, "method.params.target_density": 0.03,
                   "data.train_limit": 30000},
           "new_data": [30000, 60000], "replay": 0.2,
           "update": {"train.epochs": 10, "method.params.growth_epochs": 3, "method.params.prune_rounds": 4}})]

# CGaP: seed at 1/4 width, doubled with new random (Kaiming) units after epochs 1 and 2 (full width in
# epoch 3), then half of every layer's units pruned (a quarter of the parameters left) and 3 epochs of
# fine-tuning. The default Net2Wider split (copies of salient units) lost to pruning-only in these short
# runs (one seed: ResNet-20 79.47% vs 80.92%, VGG-19 80.72% vs 84.66%); Kaiming units won (86.44%, 85.64%).
CNN_CGAP = _m("cgap", seed_width=0.25, growth_ratio=1.0, growth_epochs=3, patience=2, prune_ratio=0.5, init="kaiming")
CNN_MAGNITUDE = _m("magnitude", target_density=0.5, structure="structured", scope="layer", iterations=2,
                   pretrain_epochs=3)
CNN_SCHEDULE = ("10% of the 60,000 training images held out for validation, then a random 8,000 of the rest; "
                "6 epochs; the 10,000 test images")
CNN_METHODS = ("CGaP: seed at 1/4 width, doubled with new Kaiming-initialised units after epochs 1 and 2, half of "
               "every layer's units pruned after epoch 3; pruning-only = structured magnitude pruning of the dense "
               "model, 3 dense epochs then 2 rounds to half of every layer's units")
CNN: List[Experiment] = []
for _model, _recipe in (("resnet20", "resnet20_fashion_mnist"), ("vgg19", "vgg19_fashion_mnist")):
    CNN += [Experiment(f"{_model}_fm_dense", "cnn", _model, "dense", _recipe, seeds=SEEDS, csim=False),
            Experiment(f"{_model}_fm_cgap", "cnn", _model, "cgap", _recipe, CNN_CGAP, seeds=SEEDS, csim=False),
            Experiment(f"{_model}_fm_magnitude", "cnn", _model, "magnitude (structured)", _recipe, CNN_MAGNITUDE,
                       seeds=SEEDS, csim=False)]

RESNET110 = [Experiment("resnet110_sim", "resnet110", "resnet110", "cgap-like pruning", csim=False)]


def experiments(quick: bool) -> List[Experiment]:
    """All runs in priority order: the simulator row, then seed 0 of every row (the cheap tables first,
    the costly LeNet-5 NPN rows last), then seeds 1 and 2 of the rows with targets (LeNet headline rows,
    the CNN table), then those of the other rows. Quick mode: seed 0 only."""
    def seeds(rows: List[Experiment], which: Tuple[int, ...]) -> List[Experiment]:
        return [Experiment(**{**e.__dict__, "seeds": which}) for e in rows]

    costly = [e for e in MNIST if e.model == "lenet5" and e.method.startswith("npn")]
    l300 = [e for e in MNIST if e.model == "lenet300_100"]
    l5 = [e for e in MNIST if e.model == "lenet5" and e not in costly]
    first = [e for e in l5 if e.method in ("dense", "nest", "cgap")]
    order = l300 + first + CNN + [e for e in l5 if e not in first] + costly
    rows = RESNET110 + seeds(l300, (0,)) + INCREMENTAL + seeds(first + CNN + [e for e in l5 if e not in first] + costly, (0,))
    if quick:
        return [Experiment(**{**e.__dict__, "seeds": e.seeds[:1]}) for e in rows]
    headline = [e for e in MNIST if e.name in HEADLINE]
    rest = [e for e in order if e.name not in HEADLINE and e not in CNN and e.name != TEACHER]
    return rows + seeds(headline + CNN + rest, (1, 2))


def with_teachers(todo: List[Tuple[Experiment, int]]) -> List[Tuple[Experiment, int]]:
    """``todo`` with each distilled run's teacher run (seed 0) placed before its first pupil."""
    out: List[Tuple[Experiment, int]] = []
    for exp, seed in todo:
        if exp.teacher:
            teacher = by_name(exp.teacher)
            if all(e.name != teacher.name for e, _ in out):
                out.append((teacher, 0))
        if all(not (e.name == exp.name and s == seed) for e, s in out):
            out.append((exp, seed))
    return out


def mnist_rows(quick: bool) -> List[Experiment]:
    """Table 1's rows in table order, each with all its seeds."""
    return [Experiment(**{**e.__dict__, "seeds": e.seeds[:1] if quick else e.seeds}) for e in MNIST]


def cnn_rows(quick: bool) -> List[Experiment]:
    """Table 3's rows in table order, each once with all its seeds (``experiments`` splits them by seed)."""
    return [Experiment(**{**e.__dict__, "seeds": e.seeds[:1] if quick else e.seeds}) for e in CNN]


# quick mode: the same rows on a slice of the data and a few epochs (shape checks, not results)
QUICK_TRAIN_LIMIT = 6000
QUICK_TEST_LIMIT = 2000


def quick_overrides(exp: Experiment, recipe_epochs: int, recipe_width: float) -> Dict[str, Any]:
    epochs = max(3, min(6, recipe_epochs // 4))
    out: Dict[str, Any] = {"train.epochs": epochs, "data.train_limit": QUICK_TRAIN_LIMIT,
                           "data.test_limit": QUICK_TEST_LIMIT}
    params = {k.split(".")[-1] for k in exp.overrides if k.startswith("method.params.")}
    if exp.method.startswith("nest"):
        out.update({"method.params.growth_epochs": 1, "method.params.prune_rounds": 2,
                    "method.params.finetune_epochs": 1})
    if exp.table == "cnn":      # Fashion-MNIST's local test set is sorted by class: never cut it
        out.update({"data.train_limit": QUICK_TRAIN_LIMIT // 2, "model.width": recipe_width / 2})
        out.pop("data.test_limit")
    if "growth_epochs" in params:
        out["method.params.growth_epochs"] = 2
    if "pretrain_epochs" in params:
        out["method.params.pretrain_epochs"] = 1
    if "magnitude" in exp.method and exp.table == "mnist":
        out.update({"method.params.pretrain_epochs": 1, "method.params.iterations": 2})
    if exp.method == "relief":
        out["method.params.iterations"] = 2
    return out
