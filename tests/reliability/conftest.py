"""Broken inputs of every kind, made once per session: model files (good, corrupt, mismatched), ONNX
files (good, truncated, garbage, unsupported op) and YAML files (malformed, wrong types, wrong shape)."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch

TINY_JET = {"name": "jet_mlp", "width": 0.25, "in_shape": (16,), "num_classes": 5}


def _onnx_files(folder: Path, model: torch.nn.Module) -> None:
    import onnx
    from onnx import TensorProto, helper

    from codesign.export.onnx import export_onnx

    export_onnx(model, folder / "good.onnx")
    data = (folder / "good.onnx").read_bytes()
    (folder / "truncated.onnx").write_bytes(data[: len(data) // 2])
    (folder / "garbage.onnx").write_bytes(b"this is not a protobuf")
    node = helper.make_node("Einsum", ["X", "X"], ["Y"], equation="bi,bi->bi")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 16])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 16])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), folder / "unsupported.onnx")


def _model_files(folder: Path) -> torch.nn.Module:
    from codesign.checkpoint import save_model
    from codesign.zoo import create_model

    torch.manual_seed(0)
    model = create_model(**TINY_JET)
    save_model(folder / "good.pt", model, source="test")
    data = (folder / "good.pt").read_bytes()
    (folder / "truncated.pt").write_bytes(data[: len(data) // 3])
    (folder / "garbage.pt").write_bytes(b"hello, not a checkpoint")
    torch.save(model.state_dict(), folder / "plain_state_dict.pt")
    other = create_model("lenet300_100", width=0.1, in_shape=(1, 28, 28), num_classes=10)
    obj = torch.load(folder / "good.pt", weights_only=False)
    torch.save({**obj, "state_dict": other.state_dict()}, folder / "mismatch.pt")
    torch.save({**obj, "model_spec": {**obj["model_spec"], "name": "jet_mpl"}}, folder / "unknown_model.pt")
    return model


YAML_FILES = {
    "malformed.yaml": "model: [unclosed\n",
    "wrong_type.yaml": "model: {name: lenet5, width: abc}\n",
    "top_list.yaml": "- a\n- b\n",
    "unknown_key.yaml": "modle: {name: lenet5}\n",
    "unknown_model.yaml": "model: {name: lenet55}\ndata: {name: synthetic}\n",
    "not_utf8.yaml": b"\x00\xff\xfe\xfd",
    "device_partial.yaml": "name: dev\nresources: {lut: 5}\n",
    "device_string.yaml": "just a string\n",
    "sweep_density.yaml": "name: x\nrecipe: jet_mlp_synthetic\ngrid: {density: [1.5]}\n",
    "sweep_density0.yaml": "name: x\nrecipe: jet_mlp_synthetic\ngrid: {density: [0.0]}\n",
    "sweep_device.yaml": "name: x\nrecipe: jet_mlp_synthetic\ngrid: {device: [xc7z02]}\n",
    "sweep_precision.yaml": "name: x\nrecipe: jet_mlp_synthetic\ngrid: {precision: ['ap_fixed<16']}\n",
    "sweep_template.yaml": "name: x\nrecipe: jet_mlp_synthetic\ngrid: {template: [tiledd]}\n",
    "sweep_method.yaml": "name: x\nrecipe: jet_mlp_synthetic\ngrid: {method: [magnitud]}\n",
    "sweep_grid_list.yaml": "name: x\nrecipe: jet_mlp_synthetic\ngrid: [1, 2]\n",
    "sweep_recipe.yaml": "name: x\nrecipe: no_such_recipe\n",
    "sweep_reuse.yaml": "name: x\nrecipe: jet_mlp_synthetic\ngrid: {reuse_factor: [0]}\n",
}


@pytest.fixture(scope="session")
def bad(tmp_path_factory) -> Path:
    """A folder of broken (and a few good) input files; see the module docstring."""
    folder = tmp_path_factory.mktemp("bad_inputs")
    for name, text in YAML_FILES.items():
        (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _onnx_files(folder, _model_files(folder).eval())
    (folder / "full").mkdir()
    (folder / "full" / "keep.txt").write_text("someone's file\n")
    return folder
