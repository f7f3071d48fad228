"""Rebuild a miniature RRSIS-D val from the real rows in ../shared/realdata/rrsisd/val_head.jsonl.

The 16 rows carry the real sentences, categories, boxes, `area` fields and RLE masks; they are
written back into the real raw layout (refs(unc).p with the verbatim ref schema, instances.json
with `categories_id`), and images are generated at the RLE size (800×800).
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from conftest import SHARED_REALDATA
from data.refer.data import write_jpeg, write_json, write_pickle

from rrsis_bench import masks
from rrsis_bench.builders import build
from rrsis_bench.store import open_dataset

ROWS = SHARED_REALDATA / "rrsisd" / "val_head.jsonl"
pytestmark = pytest.mark.skipif(not ROWS.is_file(), reason="../shared/realdata/rrsisd is absent")


def _rows() -> list[dict]:
    return [json.loads(line) for line in ROWS.read_text(encoding="utf-8").splitlines()]


def _write_release(root: Path) -> list[dict]:
    rows = _rows()
    refs, images, anns, cats = [], [], [], {}
    for r in rows:
        iid = r["image_id"]
        h, w = r["segmentation"][0]["size"]
        write_jpeg(root / "images" / "rrsisd" / "JPEGImages" / r["file_name"], w, h, iid)
        refs.append(
            {
                "image_id": iid,
                "split": r["split"],
                "sentences": [
                    {
                        "tokens": r["sent"].split(" "),
                        "raw": r["sent"],
                        "sent_id": iid,
                        "sent": r["sent"],
                    }
                ],
                "file_name": r["file_name"],
                "category_id": r["category_id"],
                "ann_id": r["ann_id"],
                "sent_ids": [iid],
                "ref_id": iid,
            }
        )
        images.append({"file_name": r["file_name"], "height": h, "width": w, "id": iid})
        anns.append(
            {
                "bbox": r["bbox"],
                "categories_id": r["category_id"],
                "id": r["ann_id"],
                "image_id": iid,
                "segmentation": r["segmentation"],
                "area": r["area"],
            }
        )
        cats[r["category_id"]] = r["category_name"]
    write_pickle(root / "rrsisd" / "refs(unc).p", refs)
    write_json(
        root / "rrsisd" / "instances.json",
        {
            "images": images,
            "annotations": anns,
            "categories": [{"name": n, "id": i} for i, n in sorted(cats.items())],
        },
    )
    return rows


def test_real_rows_rebuild(tmp_path: Path) -> None:
    rows = _write_release(tmp_path / "raw")
    result = build("rrsis-d", tmp_path / "raw", tmp_path / "out")
    assert result.counts == {
        "val": {"images": 16, "expressions": 16, "objects": 16, "single": 16, "multi": 0, "none": 0}
    }
    ds = open_dataset(tmp_path / "out")
    built = {
        r["image_id"]: r
        for r in ds.iter_rows("val", columns=["image_id", "objects", "expressions"])
    }
    assert len(built) == 16
    for r in rows:
        row = built[str(r["image_id"])]
        (expr,) = row["expressions"]
        (obj,) = row["objects"]
        assert expr["text"] == r["sent"]
        assert expr["mask"] == r["segmentation"][0]  # the source RLE, byte for byte
        assert obj["category"] == r["category_name"]
        x1, y1, x2, y2 = r["bbox"]
        assert obj["bbox"] == [x1, y1, x2 - x1, y2 - y1]
        assert "bbox_from_xyxy" in obj["flags"] and "area_recomputed" in obj["flags"]
        assert obj["area"] == masks.area(r["segmentation"][0]) != r["area"]
    areas = sorted(built[str(r["image_id"])]["expressions"][0]["area"] for r in rows)
    assert (areas[0], areas[-1]) == (544, 143_738)  # realdata README: min 544, max 143,738
    assert statistics.median(areas) == pytest.approx(14_038, abs=1)

    # research §6 oracle: val 14636 decodes to 544 px, mask extent (496,24)-(511,63), box xyxy
    v = built["14636"]
    assert v["expressions"][0]["area"] == 544
    assert masks.bbox(v["expressions"][0]["mask"]) == [496.0, 24.0, 16.0, 40.0]
    assert v["objects"][0]["bbox"] == [499.0, 34.0, 11.0, 27.0]
    assert v["objects"][0]["flags"] == ["area_recomputed", "bbox_from_xyxy", "bbox_mismatch"]
    s = built["7855"]
    assert s["expressions"][0]["area"] == 2946
    assert masks.bbox(s["expressions"][0]["mask"]) == [664.0, 136.0, 80.0, 72.0]

    fmt = [f.message for f in result.report.findings if f.rule == "bbox-format"]
    assert len(fmt) == 1 and fmt[0].startswith(
        "boxes read as [x1, y1, x2, y2] (decided from the data)"
    )
    wrong = [f.message for f in result.report.findings if f.rule == "area-field-wrong"]
    assert wrong[0].startswith(
        "the `area` field differs from the mask's pixel count in 16 of 16 annotations"
    )
