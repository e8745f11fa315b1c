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
    with pytest.raises(CodesignError, match="holds notes.txt, which --force would not replace"):
        run.prepare(force=False, own=TRAINING)              # (--force would not help: not "pass --force")


def test_force_replaces_only_what_a_run_writes(tmp_path):
    """A folder that is not a codesign run (someone's own train/ and export/) is refused even with force;
    nothing is deleted."""
    run = RunDir(tmp_path / "mine")
    run.train.mkdir(parents=True)
    (run.train / "notes.txt").write_text("precious")
    run.export.mkdir()
    (run.export / "draft.md").write_text("precious too")
    with pytest.raises(CodesignError, match="train holds notes.txt, which --force would not replace"):
        run.prepare(force=True, own=TRAINING, fresh=TRAINING)
    (run.train / "notes.txt").unlink()
    with pytest.raises(CodesignError, match="export holds draft.md"):
        run.prepare(force=True, own=TRAINING, fresh=TRAINING)
    assert (run.export / "draft.md").read_text() == "precious too"
    (run.export / "draft.md").unlink()
    (run.root / "readme.txt").write_text("x")
    with pytest.raises(CodesignError, match="holds readme.txt"):
        run.prepare(force=True, own=TRAINING, fresh=TRAINING)
    assert (run.root / "readme.txt").exists() and run.train.is_dir()


def test_force_starts_a_whole_run_over(tmp_path):
    """Every stage's files (a budget's sim/, an export into RUN/export) are a run's own: --force replaces them."""
    run = RunDir(tmp_path / "run")
    from codesign import written

    for path in (run.checkpoint, run.history, run.cost, run.trained_model, run.compact_model, run.shapes,
                 run.export / "export.json", run.export / "hls" / "firmware" / "x.cpp", run.sim / "report.json",
                 run.sim / "roofline.png", run.config):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    written.record(run.export / "hls")                      # the export's record of the project it wrote
    run.prepare(force=True, own=TRAINING, fresh=TRAINING)
    assert not any(run.root.iterdir())


def test_force_refuses_an_export_folder_holding_what_the_export_did_not_write(tmp_path):
    """Inside a run's export/: someone's sim/ of notes, or an hls/ project codesign has no record of writing
    (made by hand), are refused by train --force, as a stray file at the top is."""
    from codesign import written

    run = RunDir(tmp_path / "run")
    run.checkpoint.parent.mkdir(parents=True)
    run.checkpoint.write_bytes(b"x")
    (run.export / "sim").mkdir(parents=True)
    (run.export / "sim" / "notes.md").write_text("precious")
    with pytest.raises(CodesignError, match="notes.md"):
        run.prepare(force=True, own=TRAINING, fresh=TRAINING)
    (run.export / "sim" / "notes.md").unlink()
    (run.export / "hls" / "firmware").mkdir(parents=True)
    (run.export / "hls" / "firmware" / "x.cpp").write_text("mine")
    with pytest.raises(CodesignError, match="not written by codesign"):
        run.prepare(force=True, own=TRAINING, fresh=TRAINING)
    assert (run.export / "hls" / "firmware" / "x.cpp").read_text() == "mine"
    written.record(run.export / "hls")
    run.prepare(force=True, own=TRAINING, fresh=TRAINING)
    assert not run.export.exists()
