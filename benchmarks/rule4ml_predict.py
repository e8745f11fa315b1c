"""rule4ml's predictions for estimator_accuracy.py's designs; runs in rule4ml's own environment.

Reads a JSON list of designs on stdin ({id, model: {input, layers}, settings}, the manifest's model
mini-language), rebuilds each as a Keras model, asks rule4ml (``MultiModelWrapper.load_default_models``)
for BRAM, DSP, FF, LUT, cycles and interval on the Alveo U250 with the design's strategy, precision (weight
type), reuse factor and tool version, and prints one JSON line: {version, note, predictions: [{id, latency,
ii, dsp, lut, ff, bram}]}. rule4ml's BRAM is in the unit of its training reports (wa-hls4ml's "BRAM_18K"
column: Vivado's Block RAM tiles, RAMB36), so it is doubled to BRAM18. Designs it cannot take are skipped.

    PYTHON_OF_RULE4ML benchmarks/rule4ml_predict.py < designs.json
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")


def keras_model(name, spec):
    import keras

    c, h, w = spec["input"]
    one_d = h == 1 and w > 1
    shape = (c,) if h == 1 and w == 1 else ((w, c) if one_d else (h, w, c))
    layers = [keras.Input(shape)]
    for line in spec["layers"]:
        words = line.split()
        op, args = words[0], words[1:]
        opts = {a[0]: int(a[1:]) for a in args if a[0] in "kps" and a[1:].isdigit()}
        pad = "same" if "same" in args else "valid"
        bias = "nobias" not in args
        if op == "dense":
            layers.append(keras.layers.Dense(int(args[0]), use_bias=bias))
        elif op == "act":
            kind = {"leaky_relu": "leaky_relu", "prelu": "relu"}.get(args[0], args[0])
            layers.append(keras.layers.Activation(kind))
        elif op == "conv1d":
            layers.append(keras.layers.Conv1D(int(args[0]), opts["k"], strides=opts.get("s", 1), padding=pad, use_bias=bias))
        elif op == "conv2d":
            layers.append(keras.layers.Conv2D(int(args[0]), opts["k"], strides=opts.get("s", 1), padding=pad, use_bias=bias))
        elif op == "depthwise1d":
            layers.append(keras.layers.DepthwiseConv1D(opts["k"]))
        elif op == "depthwise2d":
            layers.append(keras.layers.DepthwiseConv2D(opts["k"]))
        else:
            cls = {"maxpool1d": keras.layers.MaxPooling1D, "maxpool2d": keras.layers.MaxPooling2D,
                   "avgpool1d": keras.layers.AveragePooling1D, "avgpool2d": keras.layers.AveragePooling2D}[op]
            layers.append(cls(opts["p"], padding=pad))
    model = keras.Sequential(layers, name=name)
    for layer in model.layers:      # rule4ml reads Keras 3 input shapes from _build_shapes_dict, which
        if getattr(layer, "_build_shapes_dict", None) is None:      # weight-less layers (pooling) lack
            layer._build_shapes_dict = {"input_shape": tuple(layer.input.shape)}
    return model


def _precision(settings):
    text = settings.get("precision", "ap_fixed<16,6>").split("/")[0].replace("fixed<", "ap_fixed<")
    text = text.replace("ap_ap_", "ap_")
    return text.replace(",", ", ") if ", " not in text else text


def _tool(design):
    """The tool version of a baseline (its id ends ".../vitis2024.1"); wa-hls4ml: Vitis HLS 2023.2."""
    if design["id"].startswith("wa-hls4ml"):
        return "2023.2"
    tail = design["id"].rsplit("/", 1)[-1]
    return tail.lstrip("abcdefghijklmnopqrstuvwxyz")


def main() -> None:
    designs = json.load(sys.stdin)
    with contextlib.redirect_stdout(io.StringIO()):
        import rule4ml
        from rule4ml.models.wrappers import MultiModelWrapper

        wrapper = MultiModelWrapper()
        wrapper.load_default_models()
    groups = {}
    for i, d in enumerate(designs):
        s = d["settings"]
        config = {"board": "alveo-u250", "model": {"strategy": s.get("strategy", "Latency"),
                                                   "precision": _precision(s),
                                                   "reuse_factor": int(s.get("reuse_factor", 1))}}
        hls4ml_version = "0.8.1" if d["id"].startswith("wa-hls4ml") else "1.1.0"
        kinds = [line.split()[0] for line in d["model"]["layers"]]     # rule4ml batches models of one layout
        key = json.dumps([config, hls4ml_version, _tool(d), kinds], sort_keys=True)
        groups.setdefault(key, []).append((f"m{i}", d))
    predictions, skipped = [], 0
    for key, members in groups.items():
        config, hls4ml_version, tool, _ = json.loads(key)
        rows = {}
        for batch in ([members] if len(members) > 1 else []) + [[m] for m in members]:
            if all(name in rows for name, _ in batch):
                continue
            try:
                models = [keras_model(name, d["model"]) for name, d in batch]
                with contextlib.redirect_stdout(io.StringIO()):
                    df = wrapper.predict(models, hls_configs=[config], hls4ml_versions=[hls4ml_version],
                                         vivado_versions=[tool])
                rows.update({r["Model"]: r for _, r in df.iterrows()})
            except Exception as exc:      # noqa: BLE001 - a layer rule4ml does not model: skip it
                if len(batch) == 1:
                    print(f"rule4ml: skipped {batch[0][1]['id']} ({type(exc).__name__}: {exc})", file=sys.stderr)
        for name, d in members:
            if name not in rows:
                skipped += 1
                continue
            row = rows[name]
            predictions.append({"id": d["id"], "latency": float(row["CYCLES"]), "ii": float(row["INTERVAL"]),
                                "dsp": float(row["DSP"]), "lut": float(row["LUT"]), "ff": float(row["FF"]),
                                "bram": 2.0 * float(row["BRAM"])})
    note = f"hls4ml 0.8.1 (wa-hls4ml) / 1.1.0 (baselines), Alveo U250; {skipped} designs skipped"
    print(json.dumps({"version": getattr(rule4ml, "__version__", "?"), "note": note, "predictions": predictions}))


if __name__ == "__main__":
    main()
