"""Every synthetic layout builds with its builder, validates without errors, and keeps its masks."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from rrsis_bench import masks
from rrsis_bench.builders import build
from rrsis_bench.registry import list_datasets
from rrsis_bench.schema import TARGET_TYPES
from rrsis_bench.store import open_dataset
from rrsis_bench.synthetic import BUILDER_OF_LAYOUT, generate

LAYOUTS = ["refsegrs", "phrase", "rrsis-d", "nwpu-refer"]


def _needs_builder(layout: str) -> None:
    if BUILDER_OF_LAYOUT[layout] not in list_datasets():
        pytest.skip(f"builder {BUILDER_OF_LAYOUT[layout]!r} is not in this install")


def _built(tmp_path, layout):
    _needs_builder(layout)
    result = generate(layout, tmp_path / "raw", n_images=9, size=96, seed=2, progress=False)
    built = build(result.builder, result.out, tmp_path / "built", strict=False)
    return result, built


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layout_builds_and_validates_without_errors_or_warnings(tmp_path, layout):
    result, built = _built(tmp_path, layout)
    sev = built.report.counts_by_severity()
    problems = [
        f"{f.rule}: {f.message}" for f in built.report.sorted_findings() if f.severity != "info"
    ]
    assert (sev["error"], sev["warning"]) == (0, 0), problems
    ds = open_dataset(built.path)
    assert ds.splits == ["train", "val", "test"]
    found = sum(c["expressions"] for c in built.counts.values())
    assert found == len(result.truth)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_built_masks_and_target_types_equal_the_truth(tmp_path, layout):
    result, built = _built(tmp_path, layout)
    truth = {(t.split, t.text, t.key): t for t in result.truth}
    rows = []
    ds = open_dataset(built.path)
    for split in ds.splits:
        for row in ds.iter_rows(split, columns=["image_id", "expressions"]):
            for e in row["expressions"]:
                rows.append((split, row["image_id"], e))
    assert len(rows) == len(truth)
    types = Counter()
    for split, image_id, e in rows:
        key = e["sample_id"] if layout in ("refsegrs", "phrase") else image_id
        t = truth[(split, e["text"], key)]
        built_type = TARGET_TYPES[e["target_type"]]
        # sources without instances (RefSegRS, RISBench) are single by definition
        expected = "single" if layout in ("refsegrs", "phrase") else t.target_type
        assert built_type == expected, (e["sample_id"], e["text"])
        assert np.array_equal(masks.decode(e["mask"]), masks.decode(t.mask)), e["sample_id"]
        types[built_type] += 1
    if layout == "nwpu-refer":
        assert set(types) == {"single", "multi", "none"}
