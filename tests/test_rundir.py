"""The run directory: one name per artifact, the final model, and starting a stage over."""
import pytest

from codesign.errors import CodesignError
from codesign.rundir import ARTIFACTS, TRAINING, RunDir


def test_every_artifact_has_one_name(tmp_path):
    run = RunDir(tmp_path)
    assert run.checkpoint == tmp_path / "train" / "ckpt.pt" and run.cost == tmp_path / "train" / "cost.json"
    assert run.compact_model == tmp_path / "compact" / "model.pt" and run.shapes.name == "shapes.json"
    assert run.comparator("scratch").trained_model == tmp_path / "compare" / "scratch" / "train" / "model.pt"
    named = {p.relative_to(tmp_path).parts[0] for p in (run.config, run.train, run.compact, run.export, run.sim,
                                                         run.incremental, run.comparator("x").root)}
    assert named == set(ARTIFACTS) and set(TRAINING) <= set(ARTIFACTS)


def test_final_model_prefers_the_compact_one(tmp_path):
    run = RunDir(tmp_path)
    assert run.final_model() is None and not run.holds_training()
    run.trained_model.parent.mkdir()
    run.trained_model.write_bytes(b"x")
    assert run.final_model() == run.trained_model
    run.compact.mkdir()
    run.compact_model.write_bytes(b"x")
    assert run.final_model() == run.compact_model


def test_prepare_refuses_foreign_files_and_starts_over_only_when_asked(tmp_path):
    run = RunDir(tmp_path / "run")
    run.train.mkdir(parents=True)
    run.checkpoint.write_bytes(b"x")
    (run.root / ".model.pt.123.tmp").write_bytes(b"")      # left by a killed writer
    run.prepare(force=False, own=TRAINING)
    assert run.holds_training() and not (run.root / ".model.pt.123.tmp").exists()
    run.prepare(force=True, own=TRAINING, fresh=TRAINING)
    assert not run.train.exists()
    (run.root / "notes.txt").write_text("mine")
    with pytest.raises(CodesignError, match="not empty"):
        run.prepare(force=False, own=TRAINING)
