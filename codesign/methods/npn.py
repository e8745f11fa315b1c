"""NPN: Neural Plasticity Networks (Li & Ji, IJCNN 2021, arXiv 1908.08118; code leo-yangli/npns).

Every unit (filter/neuron) of every prunable unit group gets a stochastic binary gate
z ~ Bernoulli(π), π = σ(k·φ), trained with the ARM gradient estimator next to the weights; an L0
cost on the expected network size switches gates off. One parameter k interpolates between
dropout (k = 0: π ≡ ½, the ARM gradient is 0, z is Bernoulli(½) dropout with the test-time scale
½) and plain training (k → ∞, here ``k_hard`` = 5000 as in the code: deterministic gates).
How the gates attach (on the inputs of the group's consumers) is explained in
:mod:`codesign.methods.npn_gates`.

Three stages, as in the official training scripts (their epoch boundaries become fractions of the
run here, so short runs keep the shape; stage 2 always gets at least one epoch):
  1. epochs [0, stage1·E): k = ``k_hard``, plain training of the units that are on;
  2. [stage1·E, stage2·E): k = ``k`` (plastic): ARM (two forward passes sharing u, one u per gate
     per mini-batch), gates stepped by their own Adam (``gate_lr`` 1e-3), only in this stage;
  3. [stage2·E, E): hardened. At the end of stage 2 every unit whose test-time gate
     (π if π ≥ ½ else 0, at the k of the next stage) is off is removed physically and π is folded
     into the consumers' weights; stage 3 fine-tunes that plain, smaller model. A run without a
     stage 3 is hardened at its last epoch with the stage-2 k, so the final model always computes
     the gated model's test-time outputs and compacts/exports like any zoo model.

Modes: ``sparsify`` starts with every gate on; ``expand`` starts from the recipe's full-width model
(the headroom, as in the official code) with only ``init_size`` gates per group on and the others
hibernating (π ≈ 0; their weights get no gradient and keep their initialisation, as long as
the recipe's own ``optim.weight_decay`` is 0 as in the shipped NPN recipes). After each
stage-2 epoch (but the last) whose validation objective (cross-entropy + regulariser, as the code's
``criterion``; the epoch's training loss when no validation split is held out) is the best so far,
every group whose allocated gates are all on switches on ``expand_by`` more (code: 1) with
φ = fill/k (π = σ(fill)). Expand mode therefore trains at full-width cost; only the hardened model
is small.

Regulariser, divided by the number of training samples when ``scale_by_n`` (LeNet/MLP code; the
ResNet-56 code does not divide):
  λ · E[#Conv/Linear weights between units that are on] = λ Σ_layers Σ_o π_o Σ_i π_i·(kernel)
  + ``weight_decay``/2 · Σ π_o π_i ‖W_oi‖²  (π detached: the expected L2 of the gated weights;
  the code's π-weighted decay weights each gate's weights by that one gate's π).
The code charges each gate λ_layer × the weights on one side of it, with λ = (10, 0.5, 0.1, 10)
for LeNet-5's gate layers; the expected count charges a unit for its weights on both sides and
needs one λ. ``lam`` 0.1 gives per-unit costs within 2× of the code's for LeNet-5 (conv1 unit
1275·0.1 vs 250, conv2 850 vs 250+800, fc1 neuron 81 vs 100); ``layer_lam`` overrides λ per layer.
``feature_gates`` adds the official code's gates on the input features of fully-connected layers
where they are not units (an MLP's input pixels, the flattened conv map of LeNet-5's fc1; see
:mod:`codesign.methods.npn_gates`); they are charged in the same L0 cost, and the columns they
switch off become connection masks. Under the expected count a feature's charge is λ × the units
of its layer that are on, so it fades as the layer's units switch off and, with ARM's noisy
gradient, the feature gates of the short CPU schedules barely move (LeNet-300-100, λ 1.0: 15 of 300
fc1 neurons kept, all 784 pixels); ``feature_lam`` adds the official code's charge, λ_f × π_j × the
layer's full output width per feature, which does not fade. With a hardware budget (``codesign train --fit DEVICE``, :mod:`codesign.methods.budget`) the L0
term counts hardware instead of weights: each layer's λ is multiplied by what one of its weights
costs on the device relative to the network's mean (:meth:`HardwareBudget.weight_prices`, set at
the start); after each stage-2 epoch but the last, the gating that meets the budget is planned on a
copy of the model (the units with the lowest π·norm per hardware price off first), and every group
switches off a geometric share of its planned units (φ to the hibernating value; all of them after
epoch J of the J before hardening; :func:`~codesign.methods.budget_plans.share_of_the_way`), so the
gated network meets the budget one epoch before hardening and trains on at that size; hardening is
followed by pruning the smallest units per hardware price while the budget is still not met (a
short L0 phase switches few gates off by itself). Deviations: without ``feature_gates`` no gates on the network
input (the MLP code gates input pixels; input channels are a fixed group here), the antithetic pass runs in training mode with BatchNorm statistics restored
(the code switches to eval mode for it), expansion also after the first stage-2 epoch and not
after the last, and the gate learning rate is constant.
"""
from __future__ import annotations

import math
from typing import Any, Dict, Literal, Optional, Tuple, Union

import torch
from pydantic import Field, model_validator

from ..config import Strict
from ..errors import ConfigError, close_matches
from . import register_method
from .base import Method, MethodContext
from .budget import prune_to_budget, units_over_budget
from .budget_plans import share_of_the_way
from .npn_gates import COLUMNS, UnitGates
from .sample_loss import sample_loss

OFF_PHI = -40.0 / 7.0          # φ of a hibernating gate in the official initialisation: π ≈ 0 at any k ≥ 1


@register_method(__name__)
class NPN(Method):
    name = "npn"
    trains_to_budget = True

    class Config(Strict):
        mode: Literal["sparsify", "expand"] = "sparsify"
        k: Optional[float] = Field(None, ge=0)      # stage-2 k; default 7 (sparsify) / 1 (expand), the README's
        k_hard: float = Field(5000.0, gt=0)         # "k = ∞" of stages 1 and 3 (code: 5000)
        lam: float = Field(0.1, ge=0)               # L0 strength per expected weight (see the module docstring)
        layer_lam: Dict[str, float] = Field(default_factory=dict)   # per Conv/Linear layer overrides of lam
        weight_decay: float = Field(5e-4, ge=0)     # π-weighted L2 inside the regulariser (code: 5e-4)
        scale_by_n: bool = True                     # regulariser × 1/#train samples (LeNet/MLP code)
        gate_lr: float = Field(1e-3, gt=0)          # Adam on φ, stepped only in stage 2 (code: 1e-3)
        stage1: float = Field(0.2, ge=0, le=1)      # stage 2 starts here, fraction of epochs (LeNet code: 100/500)
        stage2: float = Field(0.7, ge=0, le=1)      # stage 3 (hardened) starts here (LeNet code: 350/500)
        init_size: Union[int, Dict[str, int]] = 3   # expand: gates on at the start, all groups or per group
        expand_by: int = Field(1, ge=1)             # expand: gates switched on per group per expansion (code: 1)
        fill: float = 0.0                           # expand: new gate φ = fill/k, π = σ(fill) (LeNet 0, ResNet-56 3)
        feature_gates: bool = False                 # also gate each input column of FC layers reading the
                                                    # network input or a flattened map (official ARMDense)
        feature_lam: float = Field(0.0, ge=0)       # extra L0 per feature gate × its layer's full output
                                                    # width (official ARMDense charge); needs feature_gates

        @model_validator(mode="after")
        def _stages_in_order(self) -> "NPN.Config":
            if self.stage1 > self.stage2:
                raise ValueError(f"stage1 ({self.stage1}) must not exceed stage2 ({self.stage2})")
            if self.feature_lam > 0 and not self.feature_gates:
                raise ValueError("feature_lam charges the feature gates: set feature_gates: true")
            if isinstance(self.init_size, dict) and any(v < 1 for v in self.init_size.values()) \
                    or isinstance(self.init_size, int) and self.init_size < 1:
                raise ValueError("init_size must be >= 1 per group")
            return self

    def __init__(self, cfg: "NPN.Config"):
        super().__init__(cfg)
        self.k2 = cfg.k if cfg.k is not None else (7.0 if cfg.mode == "sparsify" else 1.0)
        self.gates: Optional[UnitGates] = None
        self.gate_optimizer: Optional[torch.optim.Optimizer] = None
        self.stage, self.k = 1, cfg.k_hard
        self.allocated: Dict[str, int] = {}
        self.best_objective = math.inf
        self.expansions = 0
        self.hardened = False
        self.units_total = 0
        self.units_kept = 0
        self.n_train = 1
        self.hw_scale: Dict[str, float] = {}
        self._pending: Optional[Dict[str, Any]] = None

    # ------------------------------------------------------------------ setup and stages
    def setup(self, ctx: MethodContext) -> None:
        self.n_train = ctx.train_samples
        units = ctx.units
        _check_names(self.cfg.layer_lam, units.graph.layers, "layer_lam", "layer")
        sizes = units.sizes()
        if self.cfg.mode == "sparsify":
            active = dict(sizes)
        elif isinstance(self.cfg.init_size, int):
            active = {name: self.cfg.init_size for name in sizes}
        else:
            _check_names(self.cfg.init_size, list(sizes), "init_size", "unit group")
            active = {name: self.cfg.init_size.get(name, sizes[name]) for name in sizes}
        self.gates = UnitGates(units)
        self.gates.init_phi(active, columns=self.cfg.feature_gates)
        self.allocated = {name: min(active[name], sizes[name]) for name in sizes}
        self.units_total = sum(sizes.values())
        if ctx.budget is not None:
            self.hw_scale = ctx.budget.weight_prices(ctx.model)
        self._new_gate_optimizer()
        ctx.say(f"npn ({self.cfg.mode}): {sum(self.allocated.values())} of {self.units_total} units gated on")

    def _new_gate_optimizer(self) -> None:
        self.gate_optimizer = torch.optim.Adam(list(self.gates.phi.values()), lr=self.cfg.gate_lr)

    def stage_bounds(self, total_epochs: int) -> Tuple[int, int]:
        """(first stage-2 epoch, first stage-3 epoch); stage 2 has at least one epoch."""
        s1 = max(0, min(round(self.cfg.stage1 * total_epochs), total_epochs - 1))
        s2 = min(max(s1 + 1, round(self.cfg.stage2 * total_epochs)), total_epochs)
        return s1, s2

    def on_epoch_start(self, ctx: MethodContext) -> None:
        self._restore_gates(ctx)
        s1, s2 = self.stage_bounds(ctx.total_epochs)
        stage = 1 if ctx.epoch < s1 else 2 if ctx.epoch < s2 else 3
        if stage != self.stage or ctx.epoch == 0:
            ctx.say(f"npn: stage {stage} (epochs {[1, s1 + 1, s2 + 1][stage - 1]}-"
                    f"{[s1, s2, ctx.total_epochs][stage - 1]})")
        self.stage = stage
        self.k = self.k2 if stage == 2 else self.cfg.k_hard
        if not self.hardened:
            self.gates.k = self.k
            self.gates.attach()

    def _restore_gates(self, ctx: MethodContext) -> None:
        """After a resume: rebuild the gates and their optimiser from the checkpointed state."""
        if self.gates is not None:
            return
        self.gates = UnitGates(ctx.units)
        state = self._pending or {}
        self.gates.phi = {name: phi.detach().clone().requires_grad_() for name, phi in state.get("phi", {}).items()}
        if self.gates.phi:
            self._new_gate_optimizer()
            self.gate_optimizer.load_state_dict(state["gate_optimizer"])
        self._pending = None

    # ------------------------------------------------------------------ objective and ARM
    def regulariser(self, ctx: MethodContext) -> Optional[torch.Tensor]:
        return self._regulariser(with_l0=self.stage == 2 and not self.hardened)

    def _regulariser(self, with_l0: bool) -> Optional[torch.Tensor]:
        terms = []
        if with_l0 and (self.cfg.lam > 0 or self.cfg.layer_lam):
            terms.append(self.gates.expected_weights(scale=lambda layer: self.cfg.layer_lam.get(layer, self.cfg.lam)
                                                     * self.hw_scale.get(layer, 1.0)))
        if with_l0 and self.cfg.feature_lam > 0:
            terms.append(self.cfg.feature_lam * self.gates.column_weights())
        if self.cfg.weight_decay > 0:
            terms.append(self.cfg.weight_decay * self.gates.weight_decay())
        if not terms:
            return None
        return sum(terms) / (self.n_train if self.cfg.scale_by_n else 1)

    def after_backward(self, ctx: MethodContext) -> None:
        """Stage 2: add the ARM gradient to φ (the L0 part is already there) and step the gates."""
        if self.stage != 2 or self.hardened:
            return
        x, y = ctx.batch
        f2 = float(ctx.last_loss)
        f1 = self._antithetic_loss(ctx, x, y) if self.k > 0 else f2
        for name, grad in self.gates.arm_gradient(f1, f2).items():
            phi = self.gates.phi[name]
            phi.grad = grad if phi.grad is None else phi.grad + grad
        self.gate_optimizer.step()
        self.gate_optimizer.zero_grad(set_to_none=True)

    def _antithetic_loss(self, ctx: MethodContext, x: torch.Tensor, y: torch.Tensor) -> float:
        with torch.no_grad(), self.gates.antithetic_pass():
            out = ctx.model(x)
        ctx.charge_forward(len(y))     # the extra forward pass costs too
        return float(ctx.loss(out, y))

    # ------------------------------------------------------------------ expansion and hardening
    def on_epoch_end(self, ctx: MethodContext) -> bool:
        if self.hardened:
            return False
        s1, s2 = self.stage_bounds(ctx.total_epochs)
        if self.cfg.mode == "expand" and self.stage == 2 and ctx.epoch < s2 - 1:
            self._maybe_expand(ctx)
        if ctx.budget is not None and self.stage == 2 and ctx.epoch + 1 < s2:
            self._gate_to_budget(ctx, ctx.epoch + 1 - s1, s2 - s1 - 1)
        if ctx.epoch + 1 == s2:
            self.harden(ctx, self.cfg.k_hard if s2 < ctx.total_epochs else self.k)
            return True
        return False

    def _objective(self, ctx: MethodContext) -> float:
        """Validation cross-entropy (else the epoch's training loss) + the regulariser."""
        if ctx.has_validation:
            loss = ctx.evaluate("val")[0]
        else:
            loss = float(ctx.epoch_metrics.get("train_loss", math.inf))
        with torch.no_grad():
            reg = self._regulariser(with_l0=True)
        return loss + (float(reg) if reg is not None else 0.0)

    def _maybe_expand(self, ctx: MethodContext) -> None:
        objective = self._objective(ctx)
        if objective >= self.best_objective:
            return
        self.best_objective = objective
        for name, start in list(self.allocated.items()):
            phi = self.gates.phi[name]
            if start >= len(phi) or self.gates.active(name) < start:
                continue
            n = min(self.cfg.expand_by, len(phi) - start)
            with torch.no_grad():
                phi[start:start + n].normal_(self.cfg.fill / self.k if self.k > 0 else 0.0, 0.01)
            self.allocated[name] = start + n
            self.expansions += n

    def _gate_to_budget(self, ctx: MethodContext, j: int, rounds: int) -> None:
        """With a budget, after stage-2 epoch ``j`` of the ``rounds`` before the hardening one: plan on a copy
        which units' gates to switch off for the model (without the units whose gates are off) to meet the
        budget, the lowest π·norm per hardware price first, and switch off a geometric share of them in every
        group (:func:`~codesign.methods.budget_plans.share_of_the_way`; all in the last round), so the budget is
        met one epoch before hardening and the gated network adapts to it while it still trains."""
        units, pi = ctx.units, {n: self.gates.test_gate(n) for n in self.gates.unit_gates()}
        off = {n: (p == 0).nonzero().flatten().tolist() for n, p in pi.items()}
        score = {n: units.unit_norm(n) * torch.as_tensor(pi[n]).clamp_min(1e-6) for n in pi}
        plan, check = units_over_budget(units, ctx.budget, lambda n, left: score[n][left], gone=off)
        rounds_left = max(rounds, 1) - j + 1
        switched = 0
        with torch.no_grad():
            for name, idx in plan.items():
                if name not in self.gates.phi:
                    continue
                new = sorted(set(idx) - set(off.get(name, [])))
                on = units.size(name) - len(off.get(name, []))
                count = on - share_of_the_way(on, on - len(new), rounds_left)
                if count > 0:
                    order = score[name][new].argsort()[:count].tolist()
                    self.gates.phi[name][[new[i] for i in order]] = OFF_PHI
                    switched += count
        ctx.say(f"npn: gates of {switched} more units off for the budget (round {j} of {max(rounds, 1)}; "
                f"the gating that meets it: load {check.load:.3g})")

    def harden(self, ctx: MethodContext, k: float) -> None:
        """Test-time gates at ``k`` folded into the weights, units that are off removed; no gates after."""
        columns = {n: (int((self.gates.test_gate(n, k) > 0).sum()), len(self.gates.phi[n]))
                   for n in self.gates.phi if n.endswith(COLUMNS)}
        kept = self.gates.harden(k)
        self.hardened = True
        self.gate_optimizer = None
        self.units_kept = sum(a for a, _ in kept.values())
        ctx.say(f"npn: hardened, kept {self.units_kept} of {self.units_total} units "
                f"({', '.join(f'{n} {a}/{b}' for n, (a, b) in {**kept, **columns}.items())})")
        if ctx.budget is not None:
            check, removed = prune_to_budget(ctx.units, ctx.budget, lambda g: ctx.units.unit_norm(g),
                                             judge=sample_loss(ctx))
            self.units_kept -= removed
            ctx.say(f"npn: removed {removed} more units; {check.describe()}")

    # ------------------------------------------------------------------ reporting and state
    def summary(self) -> Dict[str, Any]:
        if self.gates is None:
            return {}
        on = self.units_kept if self.hardened else sum(self.gates.active(n) for n in self.gates.unit_gates())
        indicator = lambda name: (self.gates.test_gate(name) > 0).float()  # noqa: E731
        weights = int(self.gates.expected_weights(indicator).detach())
        return {"stage": self.stage, "k": self.k, "units_on": on, "units": self.units_total, "weights_on": weights}

    def state_dict(self) -> Dict[str, Any]:
        phi = self.gates.phi if self.gates is not None else (self._pending or {}).get("phi", {})
        optimizer = self.gate_optimizer.state_dict() if self.gate_optimizer is not None \
            else (self._pending or {}).get("gate_optimizer")
        return {"phi": {n: p.detach().clone() for n, p in phi.items()}, "gate_optimizer": optimizer,
                "allocated": dict(self.allocated), "best_objective": self.best_objective,
                "expansions": self.expansions, "hardened": self.hardened, "units_total": self.units_total,
                "units_kept": self.units_kept, "n_train": self.n_train, "stage": self.stage, "k": self.k,
                "hw_scale": dict(self.hw_scale)}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        self._pending = {"phi": state.get("phi", {}), "gate_optimizer": state.get("gate_optimizer")}
        self.gates, self.gate_optimizer = None, None
        self.allocated = dict(state.get("allocated", {}))
        self.best_objective = float(state.get("best_objective", math.inf))
        self.expansions = int(state.get("expansions", 0))
        self.hardened = bool(state.get("hardened", False))
        self.units_total = int(state.get("units_total", 0))
        self.units_kept = int(state.get("units_kept", 0))
        self.n_train = int(state.get("n_train", 1))
        self.stage, self.k = int(state.get("stage", 1)), float(state.get("k", self.cfg.k_hard))
        self.hw_scale = dict(state.get("hw_scale") or {})


def _check_names(given: Dict[str, Any], known: list, key: str, what: str) -> None:
    for name in given:
        if name not in known:
            raise ConfigError(f"method 'npn' params: {key}: no {what} named '{name}'{close_matches(name, known)}; "
                              f"{what}s: {', '.join(known)}")
