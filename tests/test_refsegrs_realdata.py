"""RefSegRS val rebuilt from the real rows in ../shared/realdata/refsegrs/val.jsonl.

The phrase lines and masks are the real ones (masks written as the release has them: decoded RLE
× 255 in single-channel TIFFs); images are generated from the mask (identical masks give
identical tiles, as synonym ids share one tile in the release). Skipped when the folder is absent.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import SHARED_REALDATA
from data.refsegrs.data import write_refsegrs_from_rows

from rrsis_bench.builders import build
from rrsis_bench.store import open_dataset

VAL = SHARED_REALDATA / "refsegrs" / "val.jsonl"

pytestmark = pytest.mark.skipif(not VAL.is_file(), reason=f"{VAL} is absent")


@pytest.fixture(scope="module")
def source() -> list[dict]:
    return [json.loads(line) for line in VAL.read_text(encoding="ascii").splitlines()]


@pytest.fixture(scope="module")
def built(source: list[dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw = tmp_path_factory.mktemp("refsegrs_real")
    write_refsegrs_from_rows(source, raw)
    out = tmp_path_factory.mktemp("refsegrs_real_built") / "refsegrs"
    build("refsegrs", raw, out, num_proc=2, splits="val")
    return out


@pytest.fixture(scope="module")
def expressions(built: Path) -> dict[str, dict]:
    ds = open_dataset(built)
    return {
        row["image_id"]: row["expressions"][0]
        for row in ds.iter_rows("val", columns=["image_id", "expressions"])
    }


def test_counts(built: Path, expressions: dict[str, dict]) -> None:
    manifest = open_dataset(built).manifest
    assert list(manifest["splits"]) == ["val"]
    assert manifest["splits"]["val"]["expressions"] == 431
    assert len(expressions) == 431
    v = open_dataset(built).validation()
    assert v["counts"]["found"]["expressions"]["val"] == 431
    assert [f["message"] for f in v["findings"] if f["rule"] == "count-differs"] == [
        "expressions in total: found 431, published 4,420 (-3,989)",
        "expressions in test: found 0, published 1,817 (-1,817)",
        "expressions in train: found 0, published 2,172 (-2,172)",
    ]


def test_every_mask_equals_the_source_rle(source: list[dict], expressions: dict[str, dict]) -> None:
    for row in source:
        e = expressions[row["image_id"]]
        assert e["mask"] == row["segmentation"], row["image_id"]
        assert e["text"] == row["sent"]
    areas = sorted(e["area"] for e in expressions.values())
    # realdata README: min 202, median 3,719, max 143,352, mean 15,044.0
    assert (areas[0], areas[215], areas[-1]) == (202, 3719, 143352)
    assert round(sum(areas) / 431, 1) == 15044.0


def test_value_set_and_no_empty_mask(built: Path) -> None:
    v = open_dataset(built).validation()
    rules = {rule: r["count"] for rule, r in v["rules"].items()}
    assert "mask-empty" not in rules and "mask-values" not in rules
    (value_set,) = [f["message"] for f in v["findings"] if f["rule"] == "mask-value-set"]
    assert (
        value_set
        == "431 masks hold the values {0, 255}: {0, 255} in 431; binarised with value > 50"
    )


def test_synonym_groups_as_in_the_realdata_readme(
    built: Path, expressions: dict[str, dict]
) -> None:
    v = open_dataset(built).validation()
    groups = [f["message"] for f in v["findings"] if f["rule"] == "synonym-group"]
    assert len(groups) == 72
    sizes = Counter(int(m.split(" ", 1)[0]) for m in groups)
    assert sizes == {2: 47, 3: 13, 4: 9, 6: 3}
    flagged = [sid for sid, e in expressions.items() if "synonym_group" in e["flags"]]
    assert len(flagged) == 187
    assert v["rules"]["tile-duplicate"]["count"] == 72
    assert "tile-cross-split" not in v["rules"]
    assert "expression-duplicate" not in v["rules"]


def test_oracles(expressions: dict[str, dict]) -> None:
    # research §1.4: val 4497 / 1489 / 25 ("… driving on the road") have identical masks
    trio = [expressions[i] for i in ("4497", "1489", "25")]
    assert trio[0]["mask"] == trio[1]["mask"] == trio[2]["mask"]
    assert [e["text"] for e in trio] == [
        "vehicle driving on the road",
        "car driving on the road",
        "light-duty vehicle driving on the road",
    ]
    assert all("synonym_group" in e["flags"] for e in trio)
    # realdata README: one group of six synonyms, and identical pairs transcribed apart
    six = [expressions[i] for i in ("1521", "4533", "2666", "4419", "4666", "1046")]
    assert len({e["mask"]["counts"] for e in six}) == 1
    for a, b in (("85", "1868"), ("1210", "3015"), ("1713", "2902")):
        assert expressions[a]["mask"] == expressions[b]["mask"]
    assert expressions["4497"]["categories"] == ["vehicle", "road"]
    assert expressions["387"]["categories"] == ["sidewalk", "tree"]
    assert expressions["472"]["categories"] == ["road marking"]
    texts = Counter(e["text"] for e in expressions.values())
    assert [texts[t] for t in ("impervious surface", "road", "vehicle", "car")] == [28, 28, 26, 26]
