"""The journal (a cut last line is dropped, not trusted) and the CSV round trip."""
from __future__ import annotations

import json

from codesign.sweep.results import Journal, read_table, write_table


def test_a_cut_last_line_is_dropped_and_appending_goes_on(tmp_path):
    journal = Journal(tmp_path / "results.jsonl")
    journal.append([{"point_id": "a", "x": 1}, {"point_id": "b", "x": 2}])
    with open(journal.path, "a") as f:
        f.write('{"point_id": "c", "x"')                 # a kill in the middle of a write
    assert set(journal.load()) == {"a", "b"}
    journal.append([{"point_id": "c", "x": 3}])
    lines = journal.path.read_text().splitlines()
    assert [json.loads(line)["point_id"] for line in lines] == ["a", "b", "c"]


def test_a_later_line_for_the_same_point_wins(tmp_path):
    journal = Journal(tmp_path / "results.jsonl")
    journal.append([{"point_id": "a", "error": "boom"}])
    journal.append([{"point_id": "a", "error": None, "latency_s": 1e-6}])
    assert journal.load()["a"]["latency_s"] == 1e-6


def test_csv_round_trip_restores_types(tmp_path):
    rows = [{"point_id": "12e4", "precision": "8", "reuse_factor": 4, "latency_s": 2.5e-6, "fits": True,
             "accuracy": None, "over": "dsp;lut", "error": None},
            {"point_id": "ff01", "precision": "ap_fixed<16,6>", "reuse_factor": 1, "latency_s": float("nan"),
             "fits": False, "accuracy": 0.98, "error": "failed"}]
    back = read_table(write_table(tmp_path, rows)["csv"])
    assert back[0]["point_id"] == "12e4" and back[0]["precision"] == "8" and back[0]["reuse_factor"] == 4
    assert back[0]["fits"] is True and back[0]["accuracy"] is None and back[0]["latency_s"] == 2.5e-6
    assert back[1]["fits"] is False and back[1]["error"] == "failed" and back[1]["latency_s"] != back[1]["latency_s"]
