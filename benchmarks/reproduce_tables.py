"""Markdown tables of `reproduce.py` from its result records (pure functions; no training here).

A *record* is one finished run's JSON (see reproduce.py). Tables take the plan's experiments in
order and the records keyed by run id (``<experiment>_s<seed>``); a row whose records are missing
reads "not run", a failed one "failed: <error>". Rows with several seeds show mean ± standard
deviation (n-1) over the seeds that finished.
"""
from __future__ import annotations

import math
import statistics
from typing import Any, Dict, List, Optional, Sequence

from reproduce_plan import (INCREMENTAL_PAPER, INCREMENTAL_TARGET, NOT_RETRIEVED, NPN_TARGET, PAPER,
                            STATE_OF_THE_ART, TARGETS, Experiment)

BEGIN, END = "<!-- reproduce:begin -->", "<!-- reproduce:end -->"
MODEL_NAMES = {"lenet300_100": "LeNet-300-100", "lenet5": "LeNet-5", "resnet20": "ResNet-20",
               "vgg19": "VGG-19 (width 0.25)"}


def run_id(exp: Experiment, seed: int) -> str:
    return f"{exp.name}_s{seed}"


def records_of(exp: Experiment, records: Dict[str, dict]) -> List[dict]:
    return [records[run_id(exp, s)] for s in exp.seeds if run_id(exp, s) in records]


def finished(recs: Sequence[dict]) -> List[dict]:
    return [r for r in recs if "error" not in r]


def missing_cell(exp: Experiment, recs: Sequence[dict]) -> Optional[str]:
    """'not run' / 'failed: ...' when no seed of the row finished, else None."""
    if finished(recs):
        return None
    failed = [r for r in recs if "error" in r]
    return f"failed: {failed[0]['error'][:80]}" if failed else "not run"


def stat(values: Sequence[float], fmt: str, scale: float = 1.0) -> str:
    vals = [v * scale for v in values if v is not None]
    if not vals:
        return "–"
    if len(vals) == 1 or max(vals) == min(vals):     # deterministic across seeds: no spread to show
        return format(vals[0], fmt)
    return f"{format(statistics.mean(vals), fmt)} ± {format(statistics.stdev(vals), fmt)}"


def sci(value: Optional[float]) -> str:
    return "–" if value is None else f"{value:.3g}"


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


# ----------------------------------------------------------------------------- table 1: MNIST

def train_metrics(rec: dict) -> Dict[str, Any]:
    s, ref = rec["summary"], rec["reference"]
    csim = rec.get("csim") or {}
    return {"error": 100 * (1 - s["test_acc"]), "nonzeros": s["nonzeros"],
            "compression": ref["params"] / max(s["nonzeros"], 1), "flops": s["flops_sparse"],
            "flops_left": s["flops_sparse"] / ref["flops_dense"], "train_flops": s["train_flops_sparse"],
            "wall": s["wall_seconds"], "csim_acc": csim.get("accuracy_csim"), "csim_n": csim.get("samples"),
            "torch_acc": csim.get("accuracy_pytorch"),
            "csim_agree": csim.get("top1_agreement")}


def paper_cell(model: str, method: str) -> str:
    p = PAPER.get((model, method))
    if p is None:
        return NOT_RETRIEVED
    parts = [f"{p['error']:.2f}%" if "error" in p else f"err {NOT_RETRIEVED}",
             f"{p['compression']:.1f}×" if "compression" in p else "",
             f"{100 * p['flops_left']:.1f}% FLOPs" if "flops_left" in p else ""]
    return " · ".join(x for x in parts if x) + f" ({p['source']})"


def target_cell(model: str, metrics: List[Dict[str, Any]], want: Optional[tuple] = None) -> str:
    """Mean compression and error against ``want`` = (≥ ×, ≤ error %), the model's moonshot by default."""
    want_x, want_err = want or TARGETS[model]
    x = statistics.mean(m["compression"] for m in metrics)
    err = round(statistics.mean(m["error"] for m in metrics), 6)     # 0.9000000000000008 is 0.90%
    ok_x, ok_err = x >= want_x, err <= round(want_err, 6)
    text = (f"{x:.1f}×/{want_x:g}× {'✓' if ok_x else '✗'}, {err:.2f}%/{want_err:.2f}% "
            f"{'✓' if ok_err else f'✗ (+{err - want_err:.2f} pp)'}")
    return ("**met** " if ok_x and ok_err else "missed: ") + text


def npn_target(dense_error: Optional[float]) -> Optional[tuple]:
    """NPN's target (≥ ×, ≤ error %): ≥ NPN_TARGET['compression']× within NPN_TARGET['pp'] of dense."""
    return None if dense_error is None else (NPN_TARGET["compression"], dense_error + NPN_TARGET["pp"])


def mnist_row(exp: Experiment, recs: Sequence[dict], dense_error: Optional[float] = None) -> List[str]:
    head = [MODEL_NAMES[exp.model], exp.method]
    miss = missing_cell(exp, recs)
    if miss:
        return head + [miss] + ["–"] * 9 + [paper_cell(exp.model, exp.method), "–"]
    ms = [train_metrics(r) for r in finished(recs)]
    first = ms[0]
    csim = "–" if first["csim_acc"] is None else \
        f"{100 * first['csim_acc']:.2f}% (PyTorch {100 * first['torch_acc']:.2f}%, n={first['csim_n']}, " \
        f"agree {100 * first['csim_agree']:.1f}%)"
    return head + [
        str(len(ms)), stat([m["error"] for m in ms], ".2f"), stat([m["nonzeros"] for m in ms], ",.0f"),
        stat([m["compression"] for m in ms], ".1f"), stat([m["flops"] for m in ms], ".3g"),
        stat([m["flops_left"] for m in ms], ".2f", 100) + "%", stat([m["train_flops"] for m in ms], ".3g"),
        stat([m["wall"] for m in ms], ".0f"), csim, paper_cell(exp.model, exp.method), _row_target(exp, ms, dense_error)]


def _row_target(exp: Experiment, ms: List[Dict[str, Any]], dense_error: Optional[float]) -> str:
    if exp.method.startswith("dense"):
        return "–"
    if exp.method.startswith("npn sparsify"):
        want = npn_target(dense_error)
        return "no dense row" if want is None else "NPN " + target_cell(exp.model, ms, want)
    return target_cell(exp.model, ms)


MNIST_HEADER = ["model", "method", "seeds", "test error %", "params (nonzero)", "compression ×",
                "FLOPs/sample (sparse)", "FLOPs left", "training FLOPs (sparse)", "train wall s", "hls4ml csim acc",
                "paper: error · compression · FLOPs left", "vs target (× / error)"]


def mean_error(exp: Experiment, records: Dict[str, dict]) -> Optional[float]:
    ms = [train_metrics(r) for r in finished(records_of(exp, records))]
    return statistics.mean(m["error"] for m in ms) if ms else None


def mnist_table(exps: Sequence[Experiment], records: Dict[str, dict]) -> List[str]:
    dense = {e.model: mean_error(e, records) for e in exps if e.method == "dense"}
    rows = {e.name: e for e in exps}

    def dense_error(e: Experiment) -> Optional[float]:
        return mean_error(rows[e.dense_row], records) if e.dense_row in rows else dense.get(e.model)
    return md_table(MNIST_HEADER, [mnist_row(e, records_of(e, records), dense_error(e)) for e in exps])


def state_of_the_art_line(exps: Sequence[Experiment], records: Dict[str, dict]) -> str:
    """How far each model's best grow-and-prune row (NeST) is from the unstructured state of the art."""
    parts = []
    for model, (x, err, who) in STATE_OF_THE_ART.items():
        for exp in (e for e in exps if e.model == model and e.method.startswith("nest")):
            ms = [train_metrics(r) for r in finished(records_of(exp, records))]
            if not ms:
                continue
            ours_x = statistics.mean(m["compression"] for m in ms)
            ours_err = statistics.mean(m["error"] for m in ms)
            name = "NeST" + exp.method[len("nest"):]
            parts.append(f"{MODEL_NAMES[model]}: {who} {x:g}× at {err:.2f}%, {name} here {ours_x:.1f}× at "
                         f"{ours_err:.2f}% ({ours_x / x:.2f} of its compression, {ours_err - err:+.2f} pp error)")
    return ("State of the art, unstructured (SparseVD, Molchanov et al. ICML 2017): " + "; ".join(parts) + "."
            if parts else "")


# ---------------------------------------------------------------------- table 2: incremental

INC_ROWS = (("update", "grow-and-prune update of the old model"), ("scratch", "dense, from scratch on old + new"),
            ("finetune", "dense trained on old, fine-tuned on the update's data"),
            ("gp_scratch", "grow-and-prune from a new seed on old + new"))


def incremental_table(exp: Experiment, records: Dict[str, dict]) -> List[str]:
    recs = records_of(exp, records)
    header = ["run", "epochs × samples", "training FLOPs sparse · dense", "train wall s", "test acc", "nonzeros",
              "update saves (sparse · dense FLOPs; wall)", "paper saves", "target"]
    miss = missing_cell(exp, recs)
    if miss:
        return md_table(header, [[label, miss] + ["–"] * 7 for _, label in INC_ROWS])
    rep = finished(recs)[0]["report"]
    rows = []
    for name, label in INC_ROWS:
        row = rep["update"] if name == "update" else rep["comparators"].get(name)
        if row is None:
            rows.append([label, "not run"] + ["–"] * 7)
            continue
        rows.append([f"**{label}**" if name == "update" else label, f"{row['epochs']} × {row['samples']:,}",
                     f"{sci(row['train_flops_sparse'])} · {sci(row['train_flops_dense'])}",
                     f"{row.get('wall_seconds', float('nan')):.1f}", f"{100 * row['test_acc']:.2f}%",
                     f"{row['nonzeros']:,}" if row.get("nonzeros") else "–", saves_cell(rep, name),
                     _paper_saves(exp.model, name), _inc_target(rep, name)])
    return md_table(header, rows)


def saves_cell(rep: dict, name: str) -> str:
    if name == "update":
        return "–"
    s = rep["savings"].get(f"vs_{name}", {})
    wall = rep.get("wall_savings", {}).get(f"vs_{name}")
    text = f"{100 * s.get('sparse', math.nan):.1f}% · {100 * s.get('dense', math.nan):.1f}%"
    return text + ("" if wall is None else f"; {100 * wall:.0f}%")


def _paper_saves(model: str, name: str) -> str:
    value = INCREMENTAL_PAPER.get(model, {}).get(name)
    return "–" if value is None else f"{100 * value:.0f}%"


def _inc_target(rep: dict, name: str) -> str:
    want = INCREMENTAL_TARGET.get(name)
    if want is None:
        return "–"
    saved = rep["savings"].get(f"vs_{name}", {}).get("sparse", math.nan)
    acc_ok = rep["update"]["test_acc"] >= rep["comparators"][name]["test_acc"]
    gap = 100 * (rep["update"]["test_acc"] - rep["comparators"][name]["test_acc"])
    return (f"FLOPs {100 * saved:.0f}%/≥{100 * want:.0f}% {'✓' if saved >= want else '✗'}; "
            f"acc {gap:+.2f} pp {'✓' if acc_ok else '✗'}")


# ------------------------------------------------------------------------- table 3: CNN CGaP

def cnn_metrics(rec: dict) -> Dict[str, Any]:
    s = rec["summary"]
    return {"acc": 100 * s["test_acc"], "params": s.get("compact_params", s["params"]),
            "flops": s.get("compact_flops_dense", s["flops_dense"]), "wall": s["wall_seconds"],
            "train_flops": s["train_flops_dense"]}


def cnn_mean(recs: Sequence[dict]) -> Dict[str, Any]:
    """Mean of every metric over the seeds, plus the per-seed values (``all``)."""
    ms = [cnn_metrics(r) for r in recs]
    out = {k: statistics.mean(m[k] for m in ms) for k in ms[0]}
    out["all"] = ms
    return out


CNN_HEADER = ["model", "method", "seeds", "test acc", "params (structural)", "FLOPs/sample", "params saved",
              "FLOPs saved", "acc vs dense", "training FLOPs", "train wall s (vs dense)",
              "target: CGaP acc ≥ pruning-only at the same size, training FLOPs ≤"]


def cnn_table(exps: Sequence[Experiment], records: Dict[str, dict]) -> List[str]:
    done = {e.name: cnn_mean(finished(records_of(e, records))) for e in exps if finished(records_of(e, records))}
    dense = {e.model: done[e.name] for e in exps if e.method == "dense" and e.name in done}
    pruning = {e.model: done[e.name] for e in exps if e.method.startswith("magnitude") and e.name in done}
    rows = []
    for exp in exps:
        if exp.name not in done:
            rows.append([MODEL_NAMES[exp.model], exp.method, missing_cell(exp, records_of(exp, records))]
                        + ["–"] * (len(CNN_HEADER) - 3))
            continue
        rows.append(_cnn_row(exp, done[exp.name], dense.get(exp.model), pruning.get(exp.model)))
    return md_table(CNN_HEADER, rows)


def _cnn_row(exp: Experiment, m: dict, d: Optional[dict], pruning: Optional[dict]) -> List[str]:
    rel = (lambda k: f"{100 * (1 - m[k] / d[k]):.1f}%") if d else (lambda k: "–")
    acc = f"{m['acc'] - d['acc']:+.2f} pp" if d else "–"
    wall = f"{m['wall']:.0f}" + (f" ({m['wall'] / d['wall']:.2f}×)" if d else "")
    each = m["all"]
    return [MODEL_NAMES[exp.model], exp.method, str(len(each)), stat([x["acc"] for x in each], ".2f") + "%",
            stat([x["params"] for x in each], ",.0f"), sci(m["flops"]), rel("params"), rel("flops"), acc,
            sci(m["train_flops"]), wall, _cnn_target(m, pruning) if exp.method == "cgap" else "–"]


def _cnn_target(m: dict, pruning: Optional[dict]) -> str:
    if pruning is None:
        return "no pruning-only row"
    gap = round(m["acc"] - pruning["acc"], 6)
    same = round(m["params"]) == round(pruning["params"])
    ratio = m["train_flops"] / pruning["train_flops"]
    ok = gap >= 0 and same and ratio <= 1
    return (("**met**: " if ok else "missed: ") + f"acc {gap:+.2f} pp {'✓' if gap >= 0 else '✗'}, params "
            f"{m['params']:,.0f} vs {pruning['params']:,.0f} {'✓' if same else '✗'}, training FLOPs "
            f"{ratio:.2f}× {'✓' if ratio <= 1 else '✗'}")


# -------------------------------------------------------------------- table 4: ResNet-110 sim

def resnet110_table(exp: Experiment, records: Dict[str, dict]) -> List[str]:
    header = ["structure", "DRAM layout", "hardware", "params", "FLOPs", "latency", "DRAM energy",
              "ours − paper (latency / DRAM energy reduction)"]
    recs = records_of(exp, records)
    miss = missing_cell(exp, recs)
    if miss:
        return md_table(header, [[miss] + ["–"] * 7])
    sim = finished(recs)[0]["sim"]
    pub = sim["published"]
    cut = lambda r, k: f"−{100 * r[k]:.1f}%"  # noqa: E731
    rows = [["**paper (CGaP, JETCAS 2019)**", "not reported", "Ma et al. accelerator", cut(pub, "params"),
             cut(pub, "flops"), cut(pub, "latency"), cut(pub, "dram_energy"), "–"]]
    for r in sim["rows"]:
        rows.append([r["structure"], r["dram_layout"], r["hardware"], cut(r, "params"), cut(r, "flops"),
                     cut(r, "latency"), cut(r, "dram_energy"),
                     f"{_pp(r['latency'] - pub['latency'])} / {_pp(r['dram_energy'] - pub['dram_energy'])} pp"])
    return md_table(header, rows)


def _pp(delta: float) -> str:
    return f"{100 * delta:+.1f}".replace("-", "−")


# --------------------------------------------------------------------------------- the block

def replace_block(document: str, block: str, section_title: str) -> str:
    """``document`` with the text between the markers replaced by ``block`` (markers appended, under
    ``section_title``, when missing); everything outside the markers is kept byte for byte."""
    inner = f"{BEGIN}\n{block.strip()}\n{END}"
    if BEGIN in document and END in document:
        head, rest = document.split(BEGIN, 1)
        return head + inner + rest.split(END, 1)[1]
    return document.rstrip("\n") + f"\n\n{section_title}\n\n{inner}\n"


def not_run(plan: Sequence[Experiment], records: Dict[str, dict]) -> List[str]:
    """Run ids of the plan without a finished record."""
    return [run_id(e, s) for e in plan for s in e.seeds
            if run_id(e, s) not in records or "error" in records[run_id(e, s)]]
