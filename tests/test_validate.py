from __future__ import annotations

import json
from pathlib import Path

import pytest

from rrsis_bench.rules import FLAGS, RULES, check_flag, check_rule
from rrsis_bench.validate import Report


def test_report_counts_sorting_and_json(tmp_path: Path) -> None:
    r = Report("toy")
    r.add("mask-empty", "b", sample_id="10")
    r.add("mask-empty", "a", sample_id="9")
    r.add("image-missing", "images/3.jpg missing", file="images/3.jpg")
    r.add("layout", "found refs(unc).p")
    r.add("mask-empty", "a", sample_id="9")  # exact duplicate counted once
    assert r.counts_by_severity() == {"error": 1, "warning": 2, "info": 1}
    assert [f.sample_id for f in r.sorted_findings() if f.rule == "mask-empty"] == ["9", "10"]
    assert list(r.counts_by_rule()) == ["image-missing", "mask-empty", "layout"]
    assert r.has_errors() and r.has_warnings()
    r.write(tmp_path / "v.json")
    d = json.loads((tmp_path / "v.json").read_text())
    assert d["schema"] == "rrsis-bench/validation/1"
    assert d["rules"]["mask-empty"] == {"severity": "warning", "count": 2, "example": "a"}


def test_compare_counts_is_a_difference_not_a_failure() -> None:
    r = Report("toy")
    r.compare_counts(
        {"train": 10, "val": 3, "total": 13}, {"train": 12, "val": 3, "total": 15}, "expressions"
    )
    msgs = [f.message for f in r.sorted_findings()]
    assert msgs == [
        "expressions in total: found 13, published 15 (-2)",
        "expressions in train: found 10, published 12 (-2)",
    ]
    assert not r.has_errors()
    assert r.to_dict()["counts"] == {
        "found": {"expressions": {"train": 10, "val": 3, "total": 13}},
        "published": {"expressions": {"train": 12, "val": 3, "total": 15}},
    }


def test_summary_lines() -> None:
    r = Report("toy")
    r.add("mask-empty", "m1", severity="info")
    lines = r.summary_lines()
    assert lines[0] == "validation: 0 errors, 0 warnings, 1 info"
    assert lines[1].startswith("  info    mask-empty ×1: ")
    assert lines[2] == "      m1"


def test_closed_lists() -> None:
    assert check_flag("empty_mask") == "empty_mask"
    with pytest.raises(KeyError, match="unknown flag 'nope'"):
        check_flag("nope")
    assert check_rule("mask-empty").severity == "warning"
    with pytest.raises(KeyError, match="unknown rule 'nope'"):
        Report("x").add("nope", "m")
    assert all(r.severity in ("error", "warning", "info") for r in RULES.values())
    assert all(name.replace("_", "").isalnum() for name in FLAGS)
