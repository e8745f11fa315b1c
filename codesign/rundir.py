"""One run directory: the name of every file a run writes, stage by stage, and its lifecycle.

    RUN/config.yaml                     the resolved recipe (written by train)
    RUN/train/ckpt.pt                   checkpoint after every epoch (resume continues from it)
    RUN/train/history.csv               one row per epoch
    RUN/train/model.pt                  the trained model (with its masks), written at the end
    RUN/train/cost.json                 the run's summary: accuracy, size, FLOPs, training cost
    RUN/compact/{model.pt,shapes.json}  the compaction stage, after train, when the method pruned
    RUN/export/…                        export (ONNX, hls4ml project, csim.json)
    RUN/sim/{report.json,report.md}     the estimate
    RUN/incremental.json, RUN/compare/  an incremental update and its comparator runs

Each stage reads the artifacts before it and writes its own folder; files are written atomically
(codesign.atomic), so a killed stage leaves either the old file or the new one. A stage that is
started over (``--force``) first removes its own artifacts and everything after it
(:meth:`RunDir.clear`), so a fresh run never sits beside a stale model. ``--force`` replaces only what
a run writes: a folder holding anything else, at the top or inside a stage folder (someone's own
``train/`` or ``export/``, or an ``export/hls/`` codesign has no record of writing: :mod:`codesign.written`),
is refused, with or without it (:meth:`RunDir.check`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple

from . import atomic

#: the artifacts of a run directory, in stage order (what `--force` may remove and `--out` may hold)
ARTIFACTS: Tuple[str, ...] = ("config.yaml", "train", "compact", "export", "sim", "incremental.json", "compare")
TRAINING = ARTIFACTS[:5]     # what a fresh training run replaces: the model and everything made from it
                             # (sim: the estimate a run trained for a device ends with)
STAGES: Tuple[str, ...] = ("train", "compact", "export", "sim")   # the stage folders
TRAIN_FILES: Tuple[str, ...] = ("ckpt.pt", "history.csv", "model.pt", "cost.json")
COMPACT_FILES: Tuple[str, ...] = ("model.pt", "shapes.json")      # also what `codesign compact` writes
REPORT_FILES: Tuple[str, ...] = ("report.json", "report.md", "roofline.png")   # sim/, `codesign simulate`


def stage_files(name: str) -> Sequence[str]:
    """The files a run writes into its stage folder ``name`` (train, compact, export or sim)."""
    if name == "export":
        from .export.pipeline import EXPORT_ARTIFACTS
        return EXPORT_ARTIFACTS
    return {"train": TRAIN_FILES, "compact": COMPACT_FILES, "sim": REPORT_FILES}[name]


@dataclass(frozen=True)
class RunDir:
    root: Path

    def __init__(self, root: str | Path):
        object.__setattr__(self, "root", Path(root))

    # ------------------------------------------------------------------ files
    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def train(self) -> Path:
        return self.root / "train"

    @property
    def checkpoint(self) -> Path:
        return self.train / "ckpt.pt"

    @property
    def history(self) -> Path:
        return self.train / "history.csv"

    @property
    def trained_model(self) -> Path:
        return self.train / "model.pt"

    @property
    def cost(self) -> Path:
        return self.train / "cost.json"

    @property
    def compact(self) -> Path:
        return self.root / "compact"

    @property
    def compact_model(self) -> Path:
        return self.compact / "model.pt"

    @property
    def shapes(self) -> Path:
        return self.compact / "shapes.json"

    @property
    def export(self) -> Path:
        return self.root / "export"

    @property
    def sim(self) -> Path:
        return self.root / "sim"

    @property
    def incremental(self) -> Path:
        return self.root / "incremental.json"

    def comparator(self, name: str) -> "RunDir":
        return RunDir(self.root / "compare" / name)

    # ------------------------------------------------------------------ lifecycle
    def holds_training(self) -> bool:
        """A training run was started here (a checkpoint exists)."""
        return self.checkpoint.exists()

    def final_model(self) -> Optional[Path]:
        """The model later stages use: the compact one when there is one, else the trained one."""
        for path in (self.compact_model, self.trained_model):
            if path.exists():
                return path
        return None

    def check(self, force: bool, own: Tuple[str, ...] = ARTIFACTS, option: str = "--out") -> "RunDir":
        """Refuse a folder this command may not write (see atomic.check_output_dir): one holding anything but
        ``own`` unless ``force``, and, even with ``force``, one holding anything a run does not write, at
        the top or in one of the stage folders of ``own`` that it writes or starts over."""
        atomic.check_output_dir(self.root, force, option, own=own, replaces=ARTIFACTS)
        for name in own:
            folder = self.root / name
            if name == "export" and folder.exists():        # and inside its hls/ and sim/ (export.pipeline)
                from .export.pipeline import check_export_dir
                check_export_dir(folder, True, option)
            elif name in STAGES and folder.exists():
                atomic.check_output_dir(folder, True, option, replaces=stage_files(name))
        return self

    def prepare(self, force: bool, own: Tuple[str, ...] = ARTIFACTS, fresh: Tuple[str, ...] = ()) -> "RunDir":
        """Check the folder may be written (:meth:`check`), remove ``fresh`` artifacts when starting over
        and the temporaries a killed writer left."""
        self.check(force, own)
        if fresh:
            self.clear(fresh)
        atomic.remove_stale_temporaries(self.root)
        return self

    def clear(self, names: Tuple[str, ...] = TRAINING) -> None:
        atomic.remove_artifacts(self.root, names)

