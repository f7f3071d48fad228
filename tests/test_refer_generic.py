"""The generic REFER reader (`refer`), RRSIS-HR and RemoteSAM-270K on generated releases."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from data.records import make_records
from data.refer.data import (
    jpeg_bytes,
    make_refer_release,
    rect_mask,
    rle_of,
    write_json,
    write_pickle,
)
from data.rrsisd.data import make_rrsisd_release

from rrsis_bench import masks
from rrsis_bench.builders import build, validate
from rrsis_bench.builders.refer_expressions import flag_duplicates
from rrsis_bench.errors import AssumptionError, DatasetNotFoundError, OptionError, UnknownNameError
from rrsis_bench.registry import get_spec
from rrsis_bench.store import open_dataset
from rrsis_bench.validate import Report


def _expressions(out: Path) -> dict[str, dict]:
    ds = open_dataset(out)
    got = {}
    for split in ds.splits:
        for row in ds.iter_rows(split, columns=["image_id", "objects", "expressions"]):
            for e in row["expressions"]:
                got[e["sample_id"]] = {
                    **e,
                    "image_id": row["image_id"],
                    "split": split,
                    "objects": row["objects"],
                }
    return got


def test_refer_lookalike_detected_and_counted(tmp_path: Path) -> None:
    exp = make_refer_release(tmp_path / "raw")
    result = build("refer", tmp_path / "raw", tmp_path / "out")
    assert {s: c["expressions"] for s, c in result.counts.items()} == exp.counts
    assert {s: c["images"] for s, c in result.counts.items()} == exp.images
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["dataset"] == "refer"
    assert manifest["options"] == {
        "bbox_format": "auto",
        "group": False,
        "name": "georef",
        "repair_polygons": True,
        "split_by": "umd",
    }
    got = _expressions(tmp_path / "out")
    # three sentences of ref 1002 -> three expressions sharing ref_key
    assert [got[f"1002-{k}"]["text"] for k in range(3)] == [
        "big building",
        "the large roof",
        "building top left",
    ]
    assert {got[f"1002-{k}"]["ref_key"] for k in range(3)} == {"1002"}
    # polygon annotation rasterised at the image size; the unreferenced annotation is an object
    e = got["1002-0"]
    assert np.array_equal(masks.decode(e["mask"]), exp.masks[102])
    assert e["provenance"]["sent_ids"] == ["5003"]
    assert sorted(o["object_id"] for o in e["objects"]) == ["102", "106"]
    # the same sentence on one image with different masks is flagged when not grouped
    assert got["1000-0"]["flags"] == ["ambiguous_expression"]
    assert got["1001"]["flags"] == ["ambiguous_expression"]
    # one finding per sample, each naming the other sample
    assert [
        (f.sample_id, f.message)
        for f in result.report.sorted_findings()
        if f.rule == "expression-ambiguous"
    ] == [
        ("1000-0", "'white car' occurs 2 times on image 1: 1000-0 has a different mask from 1001"),
        ("1001", "'white car' occurs 2 times on image 1: 1001 has a different mask from 1000-0"),
    ]
    # inner spacing is kept as written (reported as text noise, not changed)
    assert got["1004"]["text"] == "tree  on the right" and got["1004"]["flags"] == []
    noise = [f for f in result.report.sorted_findings() if f.rule == "text-noise"]
    assert [(f.sample_id, f.message) for f in noise] == [
        ("1004", "'tree  on the right' has irregular inner spacing (kept as written)")
    ]


def test_grouping_option_unites_refs(tmp_path: Path) -> None:
    exp = make_refer_release(tmp_path / "raw")
    result = build("refer", tmp_path / "raw", tmp_path / "out", group="true")
    assert {s: c["expressions"] for s, c in result.counts.items()} == exp.grouped_counts
    got = _expressions(tmp_path / "out")
    white = got["1000-5000"]
    assert white["text"] == "white car"
    assert white["target_type"] == 1  # multi
    assert white["object_ids"] == ["100", "101"]
    assert white["ref_key"] == "1000+1001"
    assert white["provenance"]["ref_ids"] == ["1000", "1001"]
    assert white["provenance"]["sent_ids"] == ["5000", "5002"]
    assert white["flags"] == ["grouped"]
    union = np.maximum(exp.masks[100], exp.masks[101])
    assert np.array_equal(masks.decode(white["mask"]), union)
    assert white["area"] == int(union.sum()) == 80 + 140
    assert got["1000-5001"]["ref_key"] == "1000"  # second sentence of ref 1000 alone


def test_explicit_options_and_errors(tmp_path: Path) -> None:
    make_refer_release(tmp_path / "raw")
    result = build(
        "refer",
        tmp_path / "raw",
        tmp_path / "out",
        name="georef",
        split_by="umd",
        image_dir="images/georef/JPEGImages",
        dataset_name="georef-demo",
        bbox_format="xywh",
    )
    assert result.path == tmp_path / "out"
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["dataset"] == "georef-demo"
    assert manifest["options"]["image_dir"] == "images/georef/JPEGImages"
    assert "pretty_name: georef-demo" in (tmp_path / "out" / "README.md").read_text()
    fmt = [f.message for f in result.report.findings if f.rule == "bbox-format"]
    assert fmt == [
        "boxes read as [x, y, w, h] (given with bbox_format): that reading fits the mask extent "
        "better in 6 of 7 annotations (mean IoU 1.00 vs 0.31 as [x1, y1, x2, y2])"
    ]
    with pytest.raises(UnknownNameError) as info:
        build("refer", tmp_path / "raw", tmp_path / "o2", colour="red")
    assert str(info.value) == (
        "Expected option of refer to be one of group, bbox_format, image_dir, repair_polygons, "
        "dataset_name, name, split_by, split_map, but got 'colour'"
    )
    with pytest.raises(
        OptionError, match="^Expected option group to be true or false, but got 'maybe'$"
    ):
        build("refer", tmp_path / "raw", tmp_path / "o2", group="maybe")
    with pytest.raises(DatasetNotFoundError) as info2:
        build("refer", tmp_path / "raw", tmp_path / "o2", split_by="google")
    assert str(info2.value) == (
        f"{tmp_path / 'raw'}: cannot tell which REFER release to read (refs(<split_by>).p files "
        "found: none); pass -o name=<annotation folder> -o split_by=<splitBy>"
    )


def test_unknown_split_value_names_the_assumption(tmp_path: Path) -> None:
    make_refer_release(tmp_path / "raw")
    path = tmp_path / "raw" / "georef" / "refs(umd).p"
    refs = pickle.loads(path.read_bytes())
    for r in refs:
        if r["image_id"] == 5:
            r["split"] = "testA"
    path.write_bytes(pickle.dumps(refs, protocol=2))
    with pytest.raises(AssumptionError) as info:
        build("refer", tmp_path / "raw", tmp_path / "out")
    assert str(info.value).startswith(
        f"{path}: assumption violated: every ref's split is train, val or test; found 1 refs with "
        "another split (values: 'testA'; map them with -o split_map=<value>:<train|val|test>,...); "
        "first offending records: #"
    )
    assert "{'ref_id': 1005, 'split': 'testA'}" in str(info.value)
    result = build("refer", tmp_path / "raw", tmp_path / "out", split_map="testA:test")
    assert result.counts["test"]["expressions"] == 1
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["options"]["split_map"] == {"testA": "test"}
    with pytest.raises(OptionError) as bad:
        build("refer", tmp_path / "raw", tmp_path / "o2", split_map="testA")
    assert str(bad.value) == (
        "split_map: 'testA' is not <value>:<split>; write e.g. -o split_map=testA:test,testB:test"
    )
    with pytest.raises(OptionError) as bad:
        build("refer", tmp_path / "raw", tmp_path / "o2", split_map="testA:holdout")
    assert str(bad.value) == (
        "split_map: 'testA' is mapped to 'holdout', which is not one of train, val, test"
    )
    # split names the format accepts elsewhere are accepted here too; values need not be text
    for r in refs:
        if r["image_id"] == 5:
            r["split"] = 7
    path.write_bytes(pickle.dumps(refs, protocol=2))
    mapped = build("refer", tmp_path / "raw", tmp_path / "o3", split_map="7:validation")
    assert mapped.counts["val"]["expressions"] == 3


def _to_grefer(raw: Path, suffix: str = "json") -> Path:
    """Turn the REFER look-alike into gRefCOCO's layout: ref 1000 names both cars of image 1,
    ref 1005 refers to nothing (``ann_id`` [-1]), ``category_id`` becomes a list."""
    old = raw / "georef" / "refs(umd).p"
    refs = pickle.loads(old.read_bytes())
    old.unlink()
    for r in refs:
        r["ann_id"] = {1000: [100, 101], 1005: [-1]}.get(r["ref_id"], [r["ann_id"]])
        r["category_id"] = [] if r["ref_id"] == 1005 else [r["category_id"]]
        r["no_target"] = r["ref_id"] == 1005
    path = raw / "georef" / f"grefs(umd).{suffix}"
    if suffix == "json":
        write_json(path, refs)
    else:
        write_pickle(path, refs)
    return path


@pytest.mark.parametrize("suffix", ["json", "p"])
def test_grefer_reads_multi_and_no_target_refs(tmp_path: Path, suffix: str) -> None:
    exp = make_refer_release(tmp_path / "raw")
    _to_grefer(tmp_path / "raw", suffix)
    result = build("grefer", tmp_path / "raw", tmp_path / "out")
    assert {s: c["expressions"] for s, c in result.counts.items()} == exp.counts
    assert result.counts["train"]["multi"] == 2 and result.counts["test"]["none"] == 1
    got = _expressions(tmp_path / "out")
    both = got["1000-0"]
    assert (both["target_type"], both["object_ids"]) == (1, ["100", "101"])  # ClassLabel multi
    union = np.maximum(exp.masks[100], exp.masks[101])
    assert np.array_equal(masks.decode(both["mask"]), union)
    nothing = got["1005"]
    assert (nothing["target_type"], nothing["object_ids"], nothing["area"]) == (2, [], 0)
    assert nothing["provenance"]["ann_ids"] == []
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["dataset"] == "grefer"
    assert (manifest["options"]["name"], manifest["options"]["split_by"]) == ("georef", "umd")
    assert f"georef/grefs(umd).{suffix}" in manifest["raw_files"]


def test_grefer_assumptions(tmp_path: Path) -> None:
    make_refer_release(tmp_path / "raw")
    path = _to_grefer(tmp_path / "raw")
    refs = json.loads(path.read_text())
    good = json.loads(path.read_text())
    for r in refs:
        if r["ref_id"] == 1005:
            r["ann_id"] = [-1, 105]
    write_json(path, refs)
    with pytest.raises(AssumptionError) as info:
        build("grefer", tmp_path / "raw", tmp_path / "out")
    assert str(info.value).startswith(
        f"{path}: assumption violated: ann_id [-1] (no target) stands alone; found 1 refs "
        "listing -1 beside other annotations; first offending records: #"
    )
    assert "{'ref_id': 1005, 'ann_id': [-1, 105]}" in str(info.value)
    for r in good:
        if r["ref_id"] == 1003:
            r["no_target"] = True
    write_json(path, good)
    with pytest.raises(AssumptionError) as info:
        build("grefer", tmp_path / "raw", tmp_path / "out")
    assert (
        "no_target is true or false, and true exactly when ann_id is [-1]; found 1 refs whose "
        "no_target disagrees with their ann_id" in str(info.value)
    )
    assert "{'ref_id': 1003, 'ann_id': [103], 'no_target': True}" in str(info.value)
    for r in good:
        r["no_target"] = {1003: False, 1005: "true"}.get(r["ref_id"], r["no_target"])
    write_json(path, good)
    with pytest.raises(AssumptionError) as info:
        build("grefer", tmp_path / "raw", tmp_path / "out")
    assert "{'ref_id': 1005, 'ann_id': [-1], 'no_target': 'true'}" in str(info.value)
    other = tmp_path / "raw" / "second" / "grefs(unc).json"
    write_json(other, [])
    with pytest.raises(DatasetNotFoundError) as several:
        build("grefer", tmp_path / "raw", tmp_path / "out")
    assert str(several.value) == (
        f"{tmp_path / 'raw'}: cannot tell which gRefCOCO release to read (grefs(<split_by>).p "
        "or grefs(<split_by>).json files found: several: georef/grefs(umd).json, "
        "second/grefs(unc).json); pass -o name=<annotation folder> -o split_by=<splitBy>"
    )
    other.unlink()
    (tmp_path / "raw" / "georef" / "grefs(umd).json").unlink()
    with pytest.raises(DatasetNotFoundError) as missing:
        build("grefer", tmp_path / "raw", tmp_path / "out")
    assert str(missing.value) == (
        f"{tmp_path / 'raw'}: cannot tell which gRefCOCO release to read (grefs(<split_by>).p "
        "or grefs(<split_by>).json files found: none); pass -o name=<annotation folder> -o split_by=<splitBy>"
    )


def test_rrsis_hr_layout(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    make_rrsisd_release(raw, xml=False)
    (raw / "rrsisd").rename(raw / "rrsishr")
    (raw / "images" / "rrsisd").rename(raw / "images" / "rrsishr")
    result = build("rrsis-hr", raw, tmp_path / "out")
    assert {s: c["expressions"] for s, c in result.counts.items()} == {
        "train": 5,
        "val": 3,
        "test": 3,
    }
    got = _expressions(tmp_path / "out")
    assert got["14636"]["objects"][0]["bbox"] == [40.0, 2.0, 4.0, 8.0]
    assert get_spec("rrsishr").name == "rrsis-hr"
    assert not any(f.rule in ("excluded-list", "ref-ids-differ") for f in result.report.findings)


def _remotesam(root: Path) -> None:
    """A flat RemoteSAM-270K-like release: orphan files on disk and an all-zero mask."""
    top = root / "RemoteSAM-270K"
    images, anns, refs = [], [], []
    for i in range(1, 5):
        m = (
            rect_mask(32, 32, 2 * i, 2 * i, 10 + 2 * i, 12 + 2 * i)
            if i != 3
            else np.zeros((32, 32), np.uint8)
        )
        images.append({"id": i, "file_name": f"P{i:04d}.jpg", "height": 32, "width": 32})
        anns.append(
            {
                "id": i,
                "image_id": i,
                "category_id": 1,
                "segmentation": [rle_of(m)],
                "bbox": [2 * i, 2 * i, 10 + 2 * i, 12 + 2 * i],
                "area": 0,
            }
        )
        refs.append(
            {
                "ref_id": i,
                "ann_id": i,
                "image_id": i,
                "split": "train" if i < 4 else "val",
                "category_id": 1,
                "sentences": [{"raw": f"the object {i}", "sent_id": i}],
            }
        )
        (top / "JPEGImages").mkdir(parents=True, exist_ok=True)
        (top / "JPEGImages" / f"P{i:04d}.jpg").write_bytes(jpeg_bytes(32, 32, i))
    for extra in ("Q0001.jpg", "Q0002.jpg", "Q0003.jpg"):
        (top / "JPEGImages" / extra).write_bytes(jpeg_bytes(32, 32, 99))
    write_pickle(top / "refs(unc).p", refs)
    write_json(
        top / "instances.json",
        {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "object"}]},
    )


@pytest.mark.parametrize("level", ["above", "top"])
def test_remotesam_flat_layout(tmp_path: Path, level: str) -> None:
    _remotesam(tmp_path / "raw")
    raw = tmp_path / "raw" if level == "above" else tmp_path / "raw" / "RemoteSAM-270K"
    result = build("remotesam-270k", raw, tmp_path / "out")
    assert {s: c["expressions"] for s, c in result.counts.items()} == {"train": 3, "val": 1}
    got = _expressions(tmp_path / "out")
    assert got["3"]["flags"] == ["empty_mask"] and got["3"]["target_type"] == 0
    assert got["1"]["objects"][0]["bbox"] == [2.0, 2.0, 10.0, 12.0]
    orphan = [f.message for f in result.report.findings if f.rule == "file-orphan"]
    assert orphan == [
        "3 files in JPEGImages/ are named by no image of instances.json (first: Q0001.jpg, "
        "Q0002.jpg, Q0003.jpg)"
    ]
    ds = open_dataset(tmp_path / "out")
    (row,) = [r for r in ds.iter_rows("val", columns=["file_name"])]
    assert row["file_name"] == "JPEGImages/P0004.jpg"


def test_validate_does_not_write(tmp_path: Path) -> None:
    make_refer_release(tmp_path / "raw")
    result = validate("refer", tmp_path / "raw")
    assert result.path is None
    assert result.counts["train"]["expressions"] == 6
    assert not (tmp_path / "rrsis_home" / "refer").exists()
    shutil.rmtree(tmp_path / "raw" / "images")
    with pytest.raises(
        DatasetNotFoundError, match=r"none of the images named in instances\.json was found"
    ):
        validate("refer", tmp_path / "raw")


def test_repeated_sentence_findings_name_the_other_samples(tmp_path: Path) -> None:
    records = make_records(tmp_path, n=3)
    image = records[0]
    a, b, c = (r.expressions[0] for r in records)
    for e in (a, b, c):
        e.text = "the car"
    b.mask = a.mask  # a and b: same mask; c: another one
    image.expressions = [a, b, c]
    report = Report("refer")
    flag_duplicates([image], report)
    assert [(f.rule, f.sample_id, f.message) for f in report.findings] == [
        (
            "expression-ambiguous",
            "0",
            "'the car' occurs 3 times on image 0: 0 has a different mask from 2 and the same as 1",
        ),
        (
            "expression-ambiguous",
            "1",
            "'the car' occurs 3 times on image 0: 1 has a different mask from 2 and the same as 0",
        ),
        (
            "expression-ambiguous",
            "2",
            "'the car' occurs 3 times on image 0: 2 has a different mask from 0, 1",
        ),
    ]
    c.mask = a.mask
    for e in (a, b, c):
        e.flags.clear()
    report = Report("refer")
    flag_duplicates([image], report)
    assert [f.message for f in report.findings] == [
        "'the car' occurs 3 times on image 0: 0 has the same mask as 1, 2",
        "'the car' occurs 3 times on image 0: 1 has the same mask as 0, 2",
        "'the car' occurs 3 times on image 0: 2 has the same mask as 0, 1",
    ]
    assert {f.rule for f in report.findings} == {"expression-duplicate"}
    assert a.flags == ["duplicate_expression"]
