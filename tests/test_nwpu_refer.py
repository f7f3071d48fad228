"""The NWPU-Refer builder on generated releases of every layout variant."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from data.nwpu.data import (
    EXPECTED_COUNTS,
    EXPECTED_IMAGES,
    EXPECTED_TARGET_TYPES,
    make_nwpu_release,
)
from pycocotools import mask as coco_mask

from rrsis_bench import masks
from rrsis_bench.builders import build
from rrsis_bench.errors import AssumptionError, DatasetNotFoundError
from rrsis_bench.schema import FEATURES
from rrsis_bench.store import open_dataset


def _expressions(out: Path) -> dict[str, dict]:
    ds = open_dataset(out)
    got = {}
    for split in ds.splits:
        for row in ds.iter_rows(split, columns=["image_id", "file_name", "objects", "expressions"]):
            for e in row["expressions"]:
                got[e["sample_id"]] = {**e, "row": row, "split": split}
    return got


def _poly(polys: list[list[float]], h: int, w: int) -> np.ndarray:
    return coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects(polys, h, w)))


@pytest.mark.parametrize(
    ("variant", "image_dir", "level"),
    [
        ("new", "image/image", "root"),
        ("old", "image", "root"),
        ("new", ".", "above"),
        ("old", "image/image", "above"),
    ],
)
def test_layout_variants_exact_counts(
    tmp_path: Path, variant: str, image_dir: str, level: str
) -> None:
    root = tmp_path / "raw" / "NWPU-Refer"
    make_nwpu_release(root, variant=variant, image_dir=image_dir)
    raw = root if level == "root" else root.parent
    result = build("nwpu-refer", raw, tmp_path / "out")
    assert {s: c["expressions"] for s, c in result.counts.items()} == EXPECTED_COUNTS
    assert {s: c["images"] for s, c in result.counts.items()} == EXPECTED_IMAGES
    assert {
        s: {k: c[k] for k in ("single", "multi", "none")} for s, c in result.counts.items()
    } == EXPECTED_TARGET_TYPES
    prefix = "" if image_dir == "." else image_dir + "/"
    got = _expressions(tmp_path / "out")
    assert got["1-10"]["row"]["file_name"] == f"{prefix}P0001.jpg"
    refs = "new_refs(unc).p" if variant == "new" else "refs(unc).p"
    assert got["1-10"]["provenance"]["file"] == refs
    layout = [f.message for f in result.report.findings if f.rule == "layout"]
    inst = "new_instances.json" if variant == "new" else "instances.json"
    assert f"annotations: {refs}, {inst}" in layout
    # annotation files beside the images are not orphan images
    assert not [f for f in result.report.findings if f.rule == "file-orphan"]


def test_union_masks_target_types_languages(tmp_path: Path) -> None:
    make_nwpu_release(tmp_path / "raw")
    result = build("nwpu-refer", tmp_path / "raw", tmp_path / "out")
    got = _expressions(tmp_path / "out")
    assert len(got) == 14

    cars = got["1-10"]
    assert (cars["text"], cars["language"], cars["target_type"]) == ("all cars", "en", 1)
    assert cars["object_ids"] == ["101", "102", "103"] and cars["categories"] == ["car"]
    assert cars["ref_key"] == "1+2+3"
    assert cars["provenance"] == {
        "file": "new_refs(unc).p",
        "line": None,
        "ref_ids": ["1", "2", "3"],
        "ann_ids": ["101", "102", "103"],
        "sent_ids": ["10", "12", "14"],
    }
    assert cars["flags"] == ["grouped"]
    h, w = 48, 64  # image 1 is 64 wide, 48 high
    expected = _poly([[2, 2, 12, 2, 12, 10, 2, 10]], h, w) | _poly(
        [[20, 5, 30, 5, 30, 15, 20, 15]], h, w
    )
    expected[30:40, 40:50] = 1
    assert cars["mask"]["size"] == [48, 64]
    assert np.array_equal(masks.decode(cars["mask"]), expected)
    assert cars["area"] == int(expected.sum())

    zh = got["1-11"]
    assert (zh["text"], zh["language"], zh["target_type"], zh["ref_key"]) == (
        "所有汽车",
        "zh",
        1,
        "1+2+3",
    )
    assert zh["mask"] == cars["mask"]

    none = got["4-16"]
    assert (none["target_type"], none["object_ids"], none["categories"], none["area"]) == (
        2,
        [],
        [],
        0,
    )
    assert none["mask"] == masks.empty(48, 64)
    assert none["provenance"]["ann_ids"] == ["104"]
    assert got["4-17"]["text"] == "跑道上的飞机" and got["4-17"]["target_type"] == 2
    assert got["10-23"]["target_type"] == 2 and got["10-23"]["mask"]["size"] == [64, 48]

    mixed = got["8-21"]
    assert (mixed["language"], mixed["flags"]) == ("mixed", ["mixed_language"])

    bridges = got["11-24"]
    assert (bridges["target_type"], bridges["object_ids"]) == (1, ["110", "111"])
    assert bridges["ref_key"] == "11" and bridges["flags"] == []

    tank = got["12-25"]
    assert (tank["target_type"], tank["area"], tank["flags"]) == (0, 0, ["empty_mask"])

    assert got["5-18"]["target_type"] == 0 and got["5-18"]["object_ids"] == ["101"]
    languages = [
        f.message
        for f in result.report.findings
        if f.rule == "layout" and f.message.startswith("languages")
    ]
    assert languages == ["languages: en 11, mixed 1, zh 2"]


def test_polygon_repair_flags(tmp_path: Path) -> None:
    make_nwpu_release(tmp_path / "raw")
    result = build("nwpu-refer", tmp_path / "raw", tmp_path / "out")
    got = _expressions(tmp_path / "out")
    objects = {o["object_id"]: o for e in got.values() for o in e["row"]["objects"]}
    assert objects["106"]["flags"] == ["polygon_repaired"]
    bowtie = _poly([[0, 0, 20, 20, 20, 0, 0, 20]], 64, 64)
    assert objects["106"]["area"] == int(bowtie.sum()) == 200  # two triangles
    assert objects["107"]["flags"] == ["polygon_invalid"]
    assert objects["107"]["area"] == int(_poly([[5, 45, 15, 45, 15, 55, 5, 55]], 64, 64).sum())
    assert objects["108"]["flags"] == ["polygon_clipped"]
    assert objects["108"]["area"] == 8 * 14  # clipped to the 48×64 image
    assert objects["108"]["mask"]["size"] == [64, 48]
    assert objects["113"]["flags"] == ["empty_mask"]
    messages = sorted(f.message for f in result.report.findings if f.rule == "polygon-invalid")
    assert messages == [
        "annotation 106: polygon 0 is invalid (Self-intersection[10 10]); repaired into 2 part(s)",
        "annotation 107: polygon 0 has 2 distinct points, fewer than 3 (dropped)",
        "annotation 108: polygon 0 reaches outside the 48×64 image (x 40..60, y 50..70); clipped",
    ]


def test_validation_findings(tmp_path: Path) -> None:
    make_nwpu_release(tmp_path / "raw")
    result = build("nwpu-refer", tmp_path / "raw", tmp_path / "out")
    by_rule = result.report.counts_by_rule()
    assert (
        by_rule["image-split-reuse"]["example"]
        == "image 5 has refs in test, val; it is kept once per split"
    )
    assert by_rule["image-size-differs"]["example"] == (
        "image/image/P0003.jpg is 48×64 (w×h); instances.json says 48×48"
    )
    assert by_rule["text-mixed-language"]["count"] == 1
    counts = sorted(f.message for f in result.report.findings if f.rule == "count-differs")
    assert counts == [
        "totals in images: found 5, published 15,003 (-14,998)",
        "totals in targets: found 11, published 49,745 (-49,734)",
    ]
    data = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert data["counts"]["found"]["totals"] == {"images": 5, "targets": 11}
    ds = open_dataset(tmp_path / "out")
    assert [r["image_id"] for r in ds.iter_rows("val", columns=["image_id"])] == ["3", "5"]
    assert [r["image_id"] for r in ds.iter_rows("test", columns=["image_id"])] == ["4", "5"]


def test_no_target_with_mask_is_flagged(tmp_path: Path) -> None:
    make_nwpu_release(tmp_path / "raw")
    path = tmp_path / "raw" / "new_instances.json"
    data = json.loads(path.read_text())
    for a in data["annotations"]:
        if a["id"] == 109:
            a["segmentation"] = [[1, 1, 9, 1, 9, 9, 1, 9]]
    path.write_text(json.dumps(data))
    result = build("nwpu-refer", tmp_path / "raw", tmp_path / "out")
    got = _expressions(tmp_path / "out")
    assert got["10-23"]["target_type"] == 2
    assert got["10-23"]["flags"] == ["no_target_nonempty"]
    assert got["10-23"]["area"] == 0
    (msg,) = [f.message for f in result.report.findings if f.rule == "no-target-nonempty"]
    assert msg == "`no target` annotation 109 has a 64 px mask; ignored"


def test_grouping_can_be_turned_off(tmp_path: Path) -> None:
    make_nwpu_release(tmp_path / "raw")
    result = build("nwpu-refer", tmp_path / "raw", tmp_path / "out", group="false")
    assert {s: c["expressions"] for s, c in result.counts.items()} == {
        "train": 12,
        "val": 3,
        "test": 3,
    }
    got = _expressions(tmp_path / "out")
    assert got["1-0"]["text"] == "all cars" and got["1-0"]["target_type"] == 0
    assert got["1-0"]["flags"] == ["ambiguous_expression"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda inst, refs: inst["annotations"][0].update(segmentation="polygon"),
            "assumption violated: every segmentation is polygons, RLE or empty; found 1 "
            "annotations with another segmentation; first offending records: annotation 101: "
            "str 'polygon'.",
        ),
        (
            lambda inst, refs: inst.pop("categories"),
            "assumption violated: instances.json lists categories with ids and names (needed to "
            "recognise `no target`); found no usable 'categories' list.",
        ),
        (
            lambda inst, refs: refs[0].update(ann_id={"id": 3}),
            "assumption violated: ann_id is an id or a non-empty list of ids; found 1 refs with "
            "another ann_id; first offending records: #0: {'ref_id': ",
        ),
        (
            lambda inst, refs: refs[1].update(split="trainval"),
            "assumption violated: every ref's split is train, val or test; found 1 refs with "
            "another split (values: 'trainval'); first offending records: #1: {'ref_id': ",
        ),
    ],
)
def test_violated_assumptions(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    make_nwpu_release(tmp_path / "raw")
    inst_path = tmp_path / "raw" / "new_instances.json"
    refs_path = tmp_path / "raw" / "new_refs(unc).p"
    inst = json.loads(inst_path.read_text())
    refs = pickle.loads(refs_path.read_bytes())
    mutate(inst, refs)
    inst_path.write_text(json.dumps(inst))
    refs_path.write_bytes(pickle.dumps(refs, protocol=2))
    with pytest.raises(AssumptionError) as info:
        build("nwpu-refer", tmp_path / "raw", tmp_path / "out")
    assert message in str(info.value)
    assert str(info.value).endswith(
        "If this release has a different layout, report it with `rrsis-bench inspect`."
    )
    assert not (tmp_path / "out").exists()


def test_not_found_names_both_file_names(tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        build("nwpu-refer", tmp_path / "raw", tmp_path / "out")
    assert str(info.value) == (
        f"{tmp_path / 'raw'}: no new_refs(unc).p or refs(unc).p found (looked for "
        "new_refs(unc).p in this folder and its subfolders); pass --raw pointing at the "
        "downloaded release"
    )


def test_determinism_and_load_dataset(tmp_path: Path) -> None:
    import datasets

    make_nwpu_release(tmp_path / "raw")
    build("nwpu-refer", tmp_path / "raw", tmp_path / "a")
    build("nwpu-refer", tmp_path / "raw", tmp_path / "b", num_proc=2)

    def hashes(folder: Path) -> dict[str, str]:
        return {
            p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file()
        }

    assert hashes(tmp_path / "a") == hashes(tmp_path / "b")
    ds = datasets.load_dataset(str(tmp_path / "a"), cache_dir=str(tmp_path / "hf"))
    assert {s: ds[s].num_rows for s in ds} == EXPECTED_IMAGES
    assert all(ds[s].features == FEATURES for s in ds)
