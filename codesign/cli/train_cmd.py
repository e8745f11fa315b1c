"""`codesign train`: train a recipe (YAML or shipped name) with CLI overrides."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from . import app
from .console import console
from .options import build_overrides, io_type_option, precision_option, run_model_file, show_summary, strategy_option


@app.command()
def train(
    recipe: Optional[str] = typer.Argument(None, help="Recipe: a YAML path or a shipped name (codesign list recipes)."),
    model: Optional[str] = typer.Option(None, help="Zoo model (codesign list models) or your own: FILE.py:FUNCTION "
                                                   "or package.module:FUNCTION returning an nn.Module."),
    model_arg: List[str] = typer.Option([], "--model-arg", help="Keyword argument of a model factory, KEY=VALUE "
                                                                "(YAML value; repeatable; recipe key model.args)."),
    checkpoint: Optional[Path] = typer.Option(None, callback=run_model_file,
                                              help="Start from these weights: a codesign model file or a run "
                                                   "directory (its compact/model.pt, else train/model.pt), a "
                                                   "plain state_dict (of --model) or a pickled nn.Module."),
    width: Optional[float] = typer.Option(None, help="Width multiplier on hidden layers."),
    dataset: Optional[str] = typer.Option(None, help="Dataset (codesign list datasets)."),
    method: Optional[str] = typer.Option(None, help="Grow/prune method (codesign list methods)."),
    param: List[str] = typer.Option([], "--param", help="Method parameter KEY=VALUE (repeatable)."),
    epochs: Optional[int] = typer.Option(None, help="Training epochs (methods may add phases)."),
    batch_size: Optional[int] = typer.Option(None, help="Mini-batch size."),
    lr: Optional[float] = typer.Option(None, help="Base learning rate."),
    optimizer: Optional[str] = typer.Option(None, help="sgd, adam or adamw."),
    schedule: Optional[str] = typer.Option(None, help="constant, step, multistep or cosine."),
    seed: Optional[int] = typer.Option(None, help="Random seed (same seed, same result)."),
    val_fraction: Optional[float] = typer.Option(None, help="Fraction of training data held out for validation."),
    train_limit: Optional[int] = typer.Option(None, help="Use only the first N training samples."),
    test_limit: Optional[int] = typer.Option(None, help="Use only the first N test samples."),
    threads: Optional[int] = typer.Option(None, help="CPU threads for torch."),
    fit_device: Optional[str] = typer.Option(None, "--fit", help="Train for this device (codesign list devices, or "
                                             "a device YAML, which the run records by its content): the method "
                                             "grows and prunes within the budget of --max-latency-us and "
                                             "--max-util; the run ends with RUN/sim/report.json on it, and with "
                                             "the top-1 agreement of that design's fixed-point arithmetic (at "
                                             "--precision) with the trained model (a warning when low)."),
    max_latency_us: Optional[float] = typer.Option(None, "--max-latency-us", help="With --fit: latency bound (us); the "
                                                   "run reports the least resources within it."),
    max_util: Optional[str] = typer.Option(None, "--max-util", help="With --fit: largest fraction of each "
                                           "resource of the device (default 0.8); per resource too, e.g. "
                                           "0.8,DSP=0.25,LUT=0.5 (the others 0.8)."),
    strategy: Optional[str] = strategy_option("With --fit: ", "auto (default: the recipe's target.strategy, auto: "
                                              "each layer's strategy and reuse factor chosen as with export "
                                              "--reuse-factor auto)"),
    io_type: Optional[str] = io_type_option("With --fit: ", "the recipe's target.io_type, auto"),
    precision: Optional[str] = precision_option("With --fit: ", "the type the budget is priced in (default: the "
                                                "recipe's target.precision, ap_fixed<16,6>): ",
                                                more=" (fixed point only: the export builds no float design)"),
    set_: List[str] = typer.Option([], "--set", help="Override any recipe key, e.g. --set optim.momentum=0.8."),
    out: Optional[Path] = typer.Option(None, help="Run directory (default runs/<recipe name>)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    force: bool = typer.Option(False, "--force", help="Start over even if --out holds a run (only the files a run "
                                                      "wrote are replaced: a folder holding anything else, also "
                                                      "inside train/, compact/, export/ or sim/, is refused)."),
    data_dir: Optional[Path] = typer.Option(None, help="Data folder (default $CODESIGN_DATA or ~/.cache/codesign/data)."),
    resume_from: Optional[Path] = typer.Option(None, "--resume-from", help="Incremental update of a trained model "
                                               "(RUN_DIR, RUN_DIR/compact/model.pt or a model file) on --new-data: "
                                               "NeST grows on the new (+ replayed old) data, then prunes."),
    new_data: Optional[str] = typer.Option(None, "--new-data", help="With --resume-from: the new training samples, "
                                           "[DATASET:]START:STOP; the samples before START are the old data."),
    replay: Optional[float] = typer.Option(None, "--replay", min=0.0, max=1.0, help="With --resume-from: fraction of "
                                           "the old samples trained on again with the new ones (default 0.2)."),
    compare: Optional[str] = typer.Option(None, "--compare", help="With --resume-from: training cost of the "
                                          "comparators (scratch, fine-tuning, NeST from scratch): estimate "
                                          "(default), run or none."),
) -> None:
    """Train a model with the single training loop (checkpoint every epoch; --resume continues exactly)."""
    from ..checkpoint import check_resumable
    from ..compaction import compact_run
    from ..config import load_recipe
    from ..lock import folder_lock
    from ..model_source import parse_model_args
    from ..rundir import TRAINING, RunDir
    from .. import target as hw
    from ..train import fit
    from .progress import TrainProgress

    if resume and force:
        from ..errors import ConfigError
        raise ConfigError("--resume continues the run in --out and --force starts it over: give one of them")
    if resume and checkpoint is not None:
        from ..errors import ConfigError
        raise ConfigError(f"--resume continues the run in --out from its own last epoch and --checkpoint "
                          f"{checkpoint} starts a new one from these weights: give one of them")
    flags = {"model.name": ("--model", model), "model.width": ("--width", width), "data.name": ("--dataset", dataset),
             "method.name": ("--method", method), "train.epochs": ("--epochs", epochs),
             "train.batch_size": ("--batch-size", batch_size), "optim.lr": ("--lr", lr),
             "optim.name": ("--optimizer", optimizer), "schedule.name": ("--schedule", schedule),
             "train.seed": ("--seed", seed), "data.val_fraction": ("--val-fraction", val_fraction),
             "data.train_limit": ("--train-limit", train_limit), "data.test_limit": ("--test-limit", test_limit),
             "train.threads": ("--threads", threads), "target.device": ("--fit", fit_device),
             "target.max_latency_us": ("--max-latency-us", max_latency_us), "target.max_util": ("--max-util", max_util),
             "target.strategy": ("--strategy", strategy), "target.io_type": ("--io-type", io_type),
             "target.precision": ("--precision", precision)}
    flags = {key: (f"{flag} {_typed(value)}", value) for key, (flag, value) in flags.items()}
    flags["target.fit"] = (f"--fit {fit_device}", True if fit_device is not None else None)
    for key in ("target.strategy", "target.io_type"):         # as the recipe spells them (Latency, io_stream)
        if flags[key][1] is not None:
            flags[key] = (flags[key][0], (hw.target_strategy if key == "target.strategy" else hw.io_type)(flags[key][1]))
    flags.update({f"model.args.{k}": (f"--model-arg {k}={v}", v) for k, v in parse_model_args(model_arg).items()})
    overrides = build_overrides(set_, flags, param)
    if resume_from is not None or new_data is not None:
        from .update_view import train_update

        return train_update(recipe, overrides, resume_from, new_data, 0.2 if replay is None else replay,
                            compare or "estimate", out, resume, force, data_dir)
    update_only = [flag for flag, value in (("--replay", replay), ("--compare", compare)) if value is not None]
    if update_only:
        from ..errors import ConfigError
        raise ConfigError(f"{', '.join(update_only)}: settings of an incremental update; add --resume-from RUN and "
                          f"--new-data, or drop them")
    cfg = load_recipe(recipe, overrides)
    budget_flags = {"--max-latency-us": max_latency_us, "--max-util": max_util, "--strategy": strategy,
                    "--io-type": io_type, "--precision": precision}
    given = [flag for flag, value in budget_flags.items() if value is not None]
    if given and not cfg.target.fit:
        from ..errors import ConfigError
        raise ConfigError(f"{', '.join(given)} set the device budget's bounds and hardware: add --fit DEVICE "
                          "(or target.fit: true in the recipe)")
    from ..methods.budget import check_trains_to_budget, spec_from_target
    if spec_from_target(cfg.target) is not None:   # the budget's device and settings, checked before any folder
        check_trains_to_budget(cfg.method.name)
    start = None
    if checkpoint is not None:
        start, cfg = starting_model(checkpoint, cfg, model, data_dir, overrides.get("model.width"))
    run = RunDir(out or Path("runs") / cfg.name)
    run.check(force, own=TRAINING)                          # before the lock creates the folder
    with folder_lock(run.root, f"codesign train {cfg.name}"):
        if resume:
            check_resumable(run.checkpoint, cfg)
        # a new run (--force) never sits beside an old run's model files; a killed run's temporaries go
        run.prepare(force, own=TRAINING, fresh=TRAINING if force and not resume else ())
        with TrainProgress(f"train {cfg.model.name}") as progress:
            result = fit(cfg, run.root, resume=resume, overwrite=force, events=progress.event, data_dir=data_dir,
                         model=start)
            result.summary.update(compact_run(run.root, events=progress.event))
    show_summary(result.summary, f"{cfg.model.name} on {cfg.data.name} ({cfg.method.name})")
    compacted = f", {run.compact}/{{model.pt,shapes.json}}" if run.compact_model.exists() else ""
    estimated = f", {run.sim}/{{report.json,report.md}}" if (run.sim / "report.json").exists() else ""
    console.print(f"artifacts: {run.config}, {run.train}/{{ckpt.pt,model.pt,history.csv,cost.json}}{compacted}"
                  f"{estimated}", markup=False)


def _typed(value) -> str:
    """A flag's value as the user typed it: 5 for --max-latency-us 5 (read as 5.0)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def starting_model(checkpoint: Path, cfg, model: Optional[str], data_dir: Optional[Path], width=None):
    """(the model in ``checkpoint``, the recipe naming its architecture): a codesign model file names
    its own; a state_dict needs --model; a pickled module is trained as it is. ``width``: a --width (or --set
    model.width) given, which must be the checkpoint's."""
    from ..config import Recipe, recipe_to_dict, validate
    from ..data import load_dataset
    from ..model_source import load_any

    d = cfg.data
    splits = load_dataset(d.name, data_dir, val_fraction=d.val_fraction, train_limit=1, test_limit=1, **d.options)
    loaded, meta = load_any(checkpoint, cfg.model.name if model else None, cfg.model.args, splits.in_shape)
    spec = meta["model_spec"]
    held = float(spec.get("width", 1.0)) if "factory" not in spec and not spec.get("pickled") else 1.0
    if width is not None and float(width) != held:
        from ..errors import ConfigError
        raise ConfigError(f"--width {_typed(float(width))} and the checkpoint {checkpoint}, a {spec.get('name')} of "
                          f"width {_typed(held)}, disagree: the checkpoint's architecture is what trains; drop "
                          f"--width or pick the matching file")
    data = recipe_to_dict(cfg)
    if "factory" in spec:
        data["model"].update(name=spec["factory"], args=spec.get("kwargs", {}), width=1.0)
    elif not spec.get("pickled"):
        data["model"].update(name=spec["name"], width=spec.get("width", 1.0))
    else:
        data["model"].update(name=spec["name"], width=1.0, args={})
    return loaded.train(), validate(Recipe, data, f"recipe with {checkpoint}")
