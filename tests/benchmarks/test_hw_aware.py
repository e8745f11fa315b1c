import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import hw_aware  # noqa: E402


def design(approach, method, acc, dsp, lut, met=True, budget=1.0):
    return {"model": "m", "device": "d", "budget_us": budget, "approach": approach, "method": method,
            "test_acc": acc, "budget_dsp": dsp, "budget_lut": lut, "budget_met": met}


def test_front_cover_needs_one_aware_design_no_worse_on_accuracy_dsp_and_lut_at_once():
    rows = [design("a", "cgap", 0.90, 100, 1000), design("a", "npn", 0.95, 300, 5000),
            design("b", "cgap", 0.90, 100, 1000),              # the same run on both sides: covered, equal
            design("b", "nest", 0.89, 150, 900),               # fewer LUTs than any (a) as accurate: not covered
            design("c", "magnitude", 0.94, 400, 6000),         # beaten by (a) npn on all three
            design("c", "dense", 0.99, 10, 10, met=False),     # misses the budget: not compared
            design("b", "npn", 0.99, 10, 10, budget=2.0)]      # another budget, where no (a) design meets it
    cover = hw_aware.front_cover(rows[:6])
    assert cover["covered"] == 2 and cover["covered_only_by_an_equal_design"] == 1
    assert [u["run"] for u in cover["uncovered"]] == ["(b) nest"]
    assert cover["uncovered"][0]["best_a"] == "(a) npn"
    assert hw_aware.front_cover(rows)["uncovered"][-1]["best_a"] is None


def test_matched_shares_are_the_other_designs_dsp_and_lut_counts_on_its_device():
    other = {"device": "xc7z020", "budget_dsp": 110.0, "budget_lut": 26600.0}
    shares = hw_aware.matched_shares(other)
    assert shares == {"all": hw_aware.MAX_UTIL, "DSP": 0.5, "LUT": 0.5}


def test_matched_rows_cover_the_design_they_were_trained_against():
    """A resource-matched (a) run that meets its budget has no more DSPs and LUTs than the design it was
    matched to, so it covers it when at least as accurate; the table names both."""
    other = design("c", "magnitude", 0.95, 100, 1000)
    rows = [design("a", "npn", 0.96, 300, 5000), other]
    assert [u["run"] for u in hw_aware.front_cover(rows)["uncovered"]] == ["(c) magnitude"]
    matched = dict(design("a", "npn@(c) magnitude", 0.951, 98, 990), matched="(c) magnitude")
    assert hw_aware.front_cover(rows + [matched])["uncovered"] == []
    table = hw_aware.matched_table(rows + [matched])
    assert "(c) magnitude 0.9500 (100, 1,000)" in table and "0.9510 (98, 990) **+0.10 pp**" in table
    worse = dict(matched, test_acc=0.94)
    assert [u["run"] for u in hw_aware.front_cover(rows + [worse])["uncovered"]] == ["(c) magnitude"]


def test_cover_table_counts_before_and_after_matching():
    other = design("c", "magnitude", 0.95, 100, 1000)
    rows = [design("a", "npn", 0.96, 300, 5000), other]
    matched = dict(design("a", "npn@(c) magnitude", 0.951, 98, 990), matched="(c) magnitude")
    summary = {"sources": ["s0"], "front_cover": {"s0": hw_aware.front_cover(rows + [matched])},
               "front_cover_without_matched": {"s0": hw_aware.front_cover(rows)}}
    line = hw_aware.cover_table(summary).splitlines()[-1]
    assert line == "| s0 | 1 | 0 (0) | 1 (0) | — |"
