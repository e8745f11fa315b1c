"""`codesign compact` end to end (in-process): where it may write."""
from codesign.checkpoint import save_model
from codesign.zoo import create_model


def test_compact_force_never_writes_over_another_stage(cli, tmp_path):
    """--force replaces a compact model, never a training run's files (train/model.pt beside its checkpoint)."""
    model_file = tmp_path / "m.pt"
    save_model(model_file, create_model("lenet300_100", width=0.1, in_shape=(1, 28, 28)), source="test")
    run_train = tmp_path / "other" / "train"
    run_train.mkdir(parents=True)
    for name in ("ckpt.pt", "model.pt", "history.csv"):
        (run_train / name).write_bytes(b"x")
    r = cli("compact", model_file, "--out", run_train, "--force")
    assert r.code == 2 and "holds ckpt.pt, history.csv, which --force would not replace" in r.err, r.err
    assert (run_train / "model.pt").read_bytes() == b"x"
    assert cli("compact", model_file, "--out", tmp_path / "c").code == 0
    assert cli("compact", model_file, "--out", tmp_path / "c", "--force").code == 0
