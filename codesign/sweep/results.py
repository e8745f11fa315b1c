"""Where finished points live: an append-only journal, and the results table rebuilt from it.

``results.jsonl`` gets one JSON line per finished point (failed ones too, with ``error``), written
with one ``write`` + ``fsync`` per batch of points. A sweep killed in the middle of a write leaves
at most one incomplete last line, which loading drops (and truncates away), so that point is
simply computed again; every complete line is a finished point that is never recomputed.
``results.csv`` (and ``results.parquet`` when pyarrow is installed) is the table of the current
spec's finished points in plan order, rewritten atomically as points finish.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence

from .. import atomic
from ..errors import CodesignError

JOURNAL = "results.jsonl"
CSV = "results.csv"
PARQUET = "results.parquet"

#: column order of the results table (any other field follows, in order of appearance)
COLUMNS = (
    "point_id", "model", "width", "method", "density", "device", "template", "reuse_factor", "precision",
    "strategy", "io_type", "sparse_kernel",
    "accuracy", "val_accuracy", "csim_accuracy", "csim_agreement", "csim_max_abs_error",
    "params", "nonzeros", "params_original", "density_reached", "flops_dense", "flops_sparse",
    "latency_s", "latency_cycles", "interval_s", "interval_cycles", "throughput_per_s",
    "energy_j", "energy_dram_j", "energy_onchip_j", "energy_compute_j", "energy_static_j",
    "dram_read_bytes", "dram_write_bytes", "dsp", "bram", "lut", "ff",
    "dsp_util", "bram_util", "lut_util", "ff_util", "util_max", "fits", "over", "refused", "warnings", "slowest_layer",
    "train_seconds", "train_flops", "make_seconds", "model_key", "error",
)

TEXT_COLUMNS = {"point_id", "model_key", "model", "method", "device", "template", "precision", "strategy",
                "io_type", "sparse_kernel", "over", "refused", "warnings", "slowest_layer", "error", "csim_precision",
                "csim_dataset", "weights_source"}


class Journal:
    def __init__(self, path: Path):
        self.path = Path(path)

    def load(self) -> Dict[str, Dict[str, Any]]:
        """Finished rows by point id (a later line for the same point wins)."""
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        end = data.rfind(b"\n") + 1
        if end < len(data):                       # a write cut short by a kill: drop it
            with open(self.path, "r+b") as f:
                f.truncate(end)
        rows: Dict[str, Dict[str, Any]] = {}
        for line in data[:end].splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and "point_id" in row:
                rows[row["point_id"]] = row
        return rows

    def append(self, rows: Iterable[Dict[str, Any]]) -> None:
        text = "".join(json.dumps(_plain(r), default=str, allow_nan=True) + "\n" for r in rows)
        if not text:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())


def _plain(row: Dict[str, Any]) -> Dict[str, Any]:
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}


def columns(rows: Sequence[Dict[str, Any]]) -> List[str]:
    present = set()
    extra: List[str] = []
    for row in rows:
        for k in row:
            if k not in present:
                present.add(k)
                if k not in COLUMNS:
                    extra.append(k)
    return [c for c in COLUMNS if c in present or c in ("point_id", "error")] + extra


def write_table(run_dir: Path, rows: Sequence[Dict[str, Any]]) -> Dict[str, Path]:
    """results.csv (always) and results.parquet (when pyarrow is installed), both atomic."""
    fields = columns(rows)
    paths = {"csv": Path(run_dir) / CSV}
    atomic.write_csv(paths["csv"], [_csv_row(r) for r in rows], fields)
    parquet = _write_parquet(Path(run_dir) / PARQUET, rows, fields)
    if parquet is not None:
        paths["parquet"] = parquet
    return paths


def _csv_row(row: Dict[str, Any]) -> Dict[str, Any]:
    return {k: ("" if v is None else v) for k, v in row.items()}


def _write_parquet(path: Path, rows: Sequence[Dict[str, Any]], fields: Sequence[str]) -> Optional[Path]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return None
    import io

    data = {f: [r.get(f) for r in rows] for f in fields}
    for name, values in data.items():                # a column mixing text and numbers is stored as text
        if len({isinstance(v, str) for v in values if v is not None}) > 1:
            data[name] = [None if v is None else str(v) for v in values]
    table = pa.table(data)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    atomic.write_bytes(path, buf.getvalue())
    return path


def read_table(path: Path) -> List[Dict[str, Any]]:
    """Rows of a results.csv with numbers, booleans and empty cells (None) restored. An empty, truncated or
    foreign file is a one-line error: a report is never drawn from part of a table."""
    path = Path(path)
    rebuild = (f"rebuild it with `codesign sweep SPEC --out {path.parent} --resume` (every finished point is kept "
               f"in {JOURNAL})")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise CodesignError(f"cannot read {path} ({type(err).__name__}: {err}); {rebuild}") from None
    if not text.strip():
        raise CodesignError(f"{path} is empty; {rebuild}")
    if not text.endswith("\n"):
        raise CodesignError(f"{path} is truncated (its last line is incomplete); {rebuild}")
    reader = csv.reader(io.StringIO(text, newline=""))
    records = []
    try:
        header = next(reader)
        if "point_id" not in header:
            raise CodesignError(f"{path} is not a sweep's results table (no point_id column); {rebuild}")
        for record in reader:
            if len(record) != len(header):
                raise CodesignError(f"{path} is damaged: line {reader.line_num} has {len(record)} of {len(header)} "
                                    f"columns; {rebuild}")
            records.append(record)
    except csv.Error as err:
        raise CodesignError(f"{path} is not a readable CSV table ({err}); {rebuild}") from None
    if not records:
        raise CodesignError(f"{path} holds no finished points yet; run or resume the sweep first")
    return [{k: (v or None) if k in TEXT_COLUMNS else _value(v) for k, v in zip(header, record)}
            for record in records]


def _value(text: Optional[str]) -> Any:
    if text is None or text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def number(value: Any) -> Optional[float]:
    """A finite float, or None (missing, text, NaN or infinite)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None
