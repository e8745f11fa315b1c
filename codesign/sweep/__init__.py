"""Design-space sweeps: model × method × density × device × template × reuse factor × precision.

    from codesign.sweep import run_sweep
    result = run_sweep("sweeps/lenet5_density.yaml", "runs/sweeps/lenet5", workers=2)
    result.rows[0]["accuracy"], result.rows[0]["latency_s"], result.paths["csv"]

The pieces, one concept per file: ``spec`` (YAML → SweepSpec), ``plan`` (points, model keys),
``models`` / ``oneshot`` (make each model once: shared dense run, prune, fine-tune, compact),
``evaluate`` (simulator batch API, optional C simulation), ``executors`` (inline, process pool,
Ray), ``runner`` (run_sweep: dependency scheduling, resumable journal), ``results`` (journal and
CSV), ``pareto`` (fronts) and ``report`` (plots and HTML).
"""
from .pareto import front_rows, pareto_mask
from .report import build_report
from .results import read_table
from .runner import SweepResult, run_sweep
from .spec import SweepSpec, load_spec, shipped_specs

__all__ = ["SweepResult", "SweepSpec", "build_report", "front_rows", "load_spec", "pareto_mask", "read_table",
           "run_sweep", "shipped_specs"]
