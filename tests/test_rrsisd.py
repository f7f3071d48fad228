"""The RRSIS-D builder on a generated miniature release with the known defects."""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
from data.rrsisd.data import EXPECTED_COUNTS, SAMPLES, make_rrsisd_release

from rrsis_bench import masks
from rrsis_bench.builders import build, validate
from rrsis_bench.builders.rrsisd import DICOR_EXCLUDED, RSREFSEG2_EXCLUDED, excluded_file_names
from rrsis_bench.errors import (
    AssumptionError,
    DatasetNotFoundError,
    FormatError,
    UnknownNameError,
    UnsafePickleError,
    ValidationFailedError,
)
from rrsis_bench.schema import FEATURES
from rrsis_bench.store import open_dataset


def _rows(out: Path) -> dict[str, dict]:
    ds = open_dataset(out)
    rows = {}
    for split in ds.splits:
        for row in ds.iter_rows(
            split,
            columns=["image_id", "split", "file_name", "width", "height", "objects", "expressions"],
        ):
            rows[row["image_id"]] = row
    return rows


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def release(tmp_path: Path) -> Path:
    root = tmp_path / "raw"
    make_rrsisd_release(root)
    return root


def test_exact_counts_per_split(release: Path, tmp_path: Path) -> None:
    result = build("rrsis-d", release, tmp_path / "out")
    assert {s: c["expressions"] for s, c in result.counts.items()} == EXPECTED_COUNTS
    assert {s: c["images"] for s, c in result.counts.items()} == EXPECTED_COUNTS
    assert {s: c["single"] for s, c in result.counts.items()} == EXPECTED_COUNTS
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"] == {"images": 11, "expressions": 11, "objects": 11}
    assert manifest["options"] == {"bbox_format": "auto", "group": False, "repair_polygons": True}
    assert sorted(manifest["raw_files"]) == sorted(
        ["rrsisd/refs(unc).p", "rrsisd/instances.json"]
        + [f"images/rrsisd/JPEGImages/{i:05d}.jpg" for i, *_ in SAMPLES]
        + [f"images/rrsisd/ann_split/{i:05d}.xml" for i, *_ in SAMPLES if i != 1210]
    )


def test_sample_content_xyxy_bbox_recomputed_area(release: Path, tmp_path: Path) -> None:
    build("rrsis-d", release, tmp_path / "out")
    rows = _rows(tmp_path / "out")
    row = rows["14636"]
    assert row["split"] == "val"
    assert row["file_name"] == "images/rrsisd/JPEGImages/14636.jpg"
    (obj,) = row["objects"]
    assert obj["object_id"] == "14636"
    assert obj["category"] == "vehicle" and obj["category_id"] == 18
    assert obj["bbox"] == [40.0, 2.0, 4.0, 8.0]
    assert obj["area"] == 32
    assert obj["flags"] == ["area_recomputed", "bbox_from_xyxy"]
    (expr,) = row["expressions"]
    assert expr["sample_id"] == "14636"
    assert expr["text"] == "The vehicle is above the chimney at the bottom"
    assert expr["language"] == "en"
    assert expr["target_type"] == 0  # ClassLabel index of "single"
    assert expr["ref_key"] == "14636"
    assert expr["object_ids"] == ["14636"] and expr["categories"] == ["vehicle"]
    assert expr["area"] == 32
    assert expr["provenance"] == {
        "file": "rrsisd/refs(unc).p",
        "line": None,
        "ref_ids": ["14636"],
        "ann_ids": ["14636"],
        "sent_ids": ["14636"],
    }
    expected = np.zeros((48, 48), np.uint8)
    expected[2:10, 40:44] = 1
    assert np.array_equal(masks.decode(expr["mask"]), expected)
    assert expr["mask"] == obj["mask"]
    assert expr["flags"] == []


def test_known_defects_are_flagged(release: Path, tmp_path: Path) -> None:
    result = build("rrsis-d", release, tmp_path / "out")
    rows = _rows(tmp_path / "out")
    # odd-size image: RLE kept at 48x48, image 48x49
    odd = rows["9976"]
    assert (odd["width"], odd["height"]) == (48, 49)
    assert odd["expressions"][0]["mask"]["size"] == [48, 48]
    assert odd["expressions"][0]["flags"] == ["size_mismatch"]
    assert "size_mismatch" in odd["objects"][0]["flags"]
    # zero-area mask: kept, single, flagged
    empty = rows["15324"]["expressions"][0]
    assert (empty["target_type"], empty["area"], empty["flags"]) == (0, 0, ["empty_mask"])
    assert rows["15324"]["objects"][0]["flags"] == [
        "area_recomputed",
        "bbox_from_xyxy",
        "empty_mask",
    ]
    # exclusion lists
    assert rows["413"]["expressions"][0]["flags"] == ["excluded_dicor", "excluded_rsrefseg2"]
    assert rows["22187"]["expressions"][0]["flags"] == ["excluded_dicor", "excluded_rsrefseg2"]
    # numpy-scalar ids in the pickle read as plain ids
    assert rows["6000"]["expressions"][0]["sample_id"] == "6000"
    assert rows["6000"]["objects"][0]["category_id"] == 18
    # the truncated JPEG is skipped with an error
    assert "1210" not in rows
    by_rule = result.report.counts_by_rule()
    assert by_rule["image-unreadable"]["count"] == 1
    assert by_rule["image-unreadable"]["example"] == (
        "images/rrsisd/JPEGImages/01210.jpg: truncated: JPEG has no end-of-image marker (FFD9) "
        "(its refs are skipped)"
    )
    assert by_rule["mask-size-mismatch"]["example"] == (
        "annotation 9976: mask 48×48, image 49×48 (height×width); kept as the source has it"
    )
    assert by_rule["image-size-differs"]["example"] == (
        "images/rrsisd/JPEGImages/09976.jpg is 48×49 (w×h); instances.json says 48×48"
    )
    assert by_rule["target-empty"]["example"] == "annotation 15324 (chimney) has an empty mask"
    assert (
        by_rule["mask-empty"]["example"] == "the mask of 'The chimney on the right' is empty (kept)"
    )
    assert by_rule["bbox-format"]["example"] == (
        "boxes read as [x1, y1, x2, y2] (decided from the data): that reading fits the mask "
        "extent better in 9 of 10 annotations (mean IoU 1.00 vs 0.32 as [x, y, w, h]); "
        "converted to [x, y, w, h]"
    )
    assert by_rule["area-field-wrong"]["example"].startswith(
        "the `area` field differs from the mask's pixel count in 11 of 11 annotations "
        "(first: annotation 11: area 55,471, mask 192 px;"
    )
    assert by_rule["excluded-list"]["count"] == 2
    assert "xml-disagrees" not in by_rule and "xml-missing" not in by_rule
    assert set(by_rule) == {
        "image-unreadable",
        "file-orphan",
        "image-size-differs",
        "mask-empty",
        "mask-size-mismatch",
        "target-empty",
        "area-field-wrong",
        "bbox-format",
        "count-differs",
        "excluded-list",
        "layout",
    }


def test_exclusion_lists_exported() -> None:
    assert RSREFSEG2_EXCLUDED == ("22187.jpg", "20203.jpg", "00413.jpg")
    assert len(DICOR_EXCLUDED) == 27 and len(set(DICOR_EXCLUDED)) == 27
    assert set(RSREFSEG2_EXCLUDED) <= set(DICOR_EXCLUDED)
    assert DICOR_EXCLUDED[-1] == "07239.jpg"
    assert excluded_file_names("dicor") is DICOR_EXCLUDED
    with pytest.raises(
        UnknownNameError, match="Expected exclusion list to be one of dicor, rsrefseg2"
    ):
        excluded_file_names("nope")


@pytest.mark.parametrize("level", ["root", "above", "annotation-folder"])
def test_found_at_either_level(release: Path, tmp_path: Path, level: str) -> None:
    raw = {"root": release, "above": release.parent, "annotation-folder": release / "rrsisd"}[level]
    result = build("rrsis-d", raw, tmp_path / f"out-{level}")
    assert {s: c["expressions"] for s, c in result.counts.items()} == EXPECTED_COUNTS
    assert (
        _rows(tmp_path / f"out-{level}")["11"]["file_name"] == "images/rrsisd/JPEGImages/00011.jpg"
    )


def test_drive_download_with_archives(tmp_path: Path) -> None:
    raw = tmp_path / "drive"
    make_rrsisd_release(raw, layout="drive")
    result = build("rrsis-d", raw, tmp_path / "out")
    assert {s: c["expressions"] for s, c in result.counts.items()} == EXPECTED_COUNTS
    rows = _rows(tmp_path / "out")
    assert rows["11"]["file_name"] == "JPEGImages/00011.jpg"
    layout = [f.message for f in result.report.findings if f.rule == "layout"]
    assert "images: extracted from JPEGImages.zip (12 of 12 sampled names present)" in layout
    assert "ann_split: extracted from ann_split.zip" in layout
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    # both archives, and every member read under its path inside the archive
    assert list(manifest["raw_files"]) == (
        ["JPEGImages.zip"]
        + [f"JPEGImages/{i:05d}.jpg" for i in sorted(i for i, *_ in SAMPLES)]
        + ["ann_split.zip"]
        + [f"ann_split/{i:05d}.xml" for i in sorted(i for i, *_ in SAMPLES if i != 1210)]
        + ["instances.json", "refs(unc).p"]
    )
    # a second build reuses the extraction cache and gives identical files
    build("rrsis-d", raw, tmp_path / "out2")
    assert _hashes(tmp_path / "out") == _hashes(tmp_path / "out2")


def test_not_found(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError) as info:
        build("rrsis-d", tmp_path / "empty", tmp_path / "out")
    assert str(info.value) == (
        f"{tmp_path / 'empty'}: no refs(unc).p found (looked for rrsisd/refs(unc).p in this folder "
        "and its subfolders); pass --raw pointing at the downloaded release"
    )
    with pytest.raises(DatasetNotFoundError, match="the raw folder does not exist"):
        build("rrsis-d", tmp_path / "nowhere", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_instances_and_images(release: Path, tmp_path: Path) -> None:
    (release / "rrsisd" / "instances.json").unlink()
    with pytest.raises(DatasetNotFoundError) as info:
        build("rrsis-d", release, tmp_path / "out")
    assert str(info.value) == (
        f"{release / 'rrsisd'}: instances.json not found beside refs(unc).p; the download is "
        "incomplete: fetch the instances file too"
    )


def test_images_not_extracted_says_what_to_do(release: Path, tmp_path: Path) -> None:
    shutil.rmtree(release / "images" / "rrsisd" / "JPEGImages")
    with pytest.raises(DatasetNotFoundError) as info:
        build("rrsis-d", release, tmp_path / "out")
    msg = str(info.value)
    assert msg.startswith(
        f"{release}: none of the images named in instances.json was found (looked in "
    )
    assert msg.endswith(
        f"Extract JPEGImages.zip so that {release}/images/rrsisd/JPEGImages/00011.jpg exists, "
        "or put JPEGImages.zip beside refs(unc).p"
    )


def test_partial_download(release: Path, tmp_path: Path) -> None:
    for image_id in (110, 7855):
        (release / "images" / "rrsisd" / "JPEGImages" / f"{image_id:05d}.jpg").unlink()
    result = build("rrsis-d", release, tmp_path / "out")
    assert {s: c["expressions"] for s, c in result.counts.items()} == {
        "train": 5,
        "val": 2,
        "test": 2,
    }
    missing = sorted(f.message for f in result.report.findings if f.rule == "image-missing")
    assert missing == [
        "images/rrsisd/JPEGImages/00110.jpg does not exist (its refs are skipped)",
        "images/rrsisd/JPEGImages/07855.jpg does not exist (its refs are skipped)",
    ]


def test_truncated_image_archive(tmp_path: Path) -> None:
    raw = tmp_path / "drive"
    make_rrsisd_release(raw, layout="drive")
    data = (raw / "JPEGImages.zip").read_bytes()
    (raw / "JPEGImages.zip").write_bytes(data[: len(data) // 3])
    with pytest.raises(
        FormatError, match=r"JPEGImages\.zip: not a readable archive .*download it again"
    ):
        build("rrsis-d", raw, tmp_path / "out")


def test_json_errors_name_the_problem_once(release: Path, tmp_path: Path) -> None:
    inst = release / "rrsisd" / "instances.json"
    inst.write_text('{"images": [{"file_name": "00011.jpg', encoding="utf-8")
    with pytest.raises(FormatError) as info:
        build("rrsis-d", release, tmp_path / "out")
    assert str(info.value) == (
        f"{inst}:1: not valid JSON (Unterminated string starting at column 27); the file may "
        "be truncated: download it again"
    )
    for value, found in [
        (5, "'images' is not a list but an int (5)"),
        (None, "'images' is not a list but null"),
        ({"00011.jpg": {}}, "'images' is not a list but a dict with keys 00011.jpg"),
    ]:
        inst.write_text(json.dumps({"images": value, "annotations": [], "categories": []}))
        with pytest.raises(AssumptionError) as info2:
            build("rrsis-d", release, tmp_path / "out")
        assert str(info2.value) == (
            f"{inst}: assumption violated: instances.json has a list 'images'; found {found}. "
            "If this release has a different layout, report it with `rrsis-bench inspect`."
        )


def test_malformed_annotation_files(release: Path, tmp_path: Path) -> None:
    inst = release / "rrsisd" / "instances.json"
    good = inst.read_bytes()
    inst.write_bytes(good[:-30])
    with pytest.raises(FormatError) as info:
        build("rrsis-d", release, tmp_path / "out")
    assert str(info.value).startswith(f"{inst}:1: not valid JSON (")
    inst.write_text(json.dumps({"images": [], "anns": []}))
    with pytest.raises(AssumptionError) as info2:
        build("rrsis-d", release, tmp_path / "out")
    assert str(info2.value) == (
        f"{inst}: assumption violated: instances.json has a list 'annotations'; found no key "
        "'annotations' (keys anns, images). If this release has a different layout, report it "
        "with `rrsis-bench inspect`."
    )
    inst.write_bytes(good)
    refs = release / "rrsisd" / "refs(unc).p"
    loaded = pickle.loads(refs.read_bytes())
    for r in loaded[:2]:
        del r["split"]
    refs.write_bytes(pickle.dumps(loaded, protocol=2))
    with pytest.raises(AssumptionError) as info3:
        build("rrsis-d", release, tmp_path / "out")
    assert str(info3.value) == (
        f"{refs}: assumption violated: every ref has the key 'split'; found 2 refs without "
        "'split'; first offending records: #0: dict with keys ann_id, category_id, file_name, "
        "image_id, ref_id, sent_ids, sentences; #1: dict with keys ann_id, category_id, "
        "file_name, image_id, ref_id, sent_ids, sentences. If this release has a different "
        "layout, report it with `rrsis-bench inspect`."
    )
    assert not (tmp_path / "out").exists()


def test_bad_rle_is_skipped_not_fatal(release: Path, tmp_path: Path) -> None:
    inst = release / "rrsisd" / "instances.json"
    data = json.loads(inst.read_text())
    data["annotations"][0]["segmentation"][0]["counts"] = "0000"
    inst.write_text(json.dumps(data))
    result = build("rrsis-d", release, tmp_path / "out")
    assert result.counts["train"]["expressions"] == 4
    (finding,) = [f for f in result.report.findings if f.rule == "rle-invalid"]
    assert finding.message == (
        "annotation 11: RLE counts do not decode to 48×48 pixels (annotation skipped; refs 11 skipped)"
    )


def test_hostile_pickle_stops_build(release: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):  # type: ignore[no-untyped-def]
            import os

            return (os.system, (f"touch {marker}",))

    refs = release / "rrsisd" / "refs(unc).p"
    refs.write_bytes(pickle.dumps([Evil()], protocol=2))
    with pytest.raises(UnsafePickleError, match=r"refused global posix\.system"):
        build("rrsis-d", release, tmp_path / "out")
    assert not marker.exists()
    assert not (tmp_path / "out").exists()


def test_determinism_and_num_proc(release: Path, tmp_path: Path) -> None:
    build("rrsis-d", release, tmp_path / "a")
    build("rrsis-d", release, tmp_path / "b", num_proc=2)
    build("rrsis-d", release, tmp_path / "c", num_proc=2, max_shard_bytes=2_000)
    assert _hashes(tmp_path / "a") == _hashes(tmp_path / "b")
    assert len(list((tmp_path / "c" / "data").glob("*.parquet"))) > 3


def test_atomicity_failed_build_keeps_previous(release: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    build("rrsis-d", release, out)
    before = _hashes(out)
    with pytest.raises(
        ValidationFailedError, match=r"^--strict: validation found 1 errors and 5 warnings"
    ):
        build("rrsis-d", release, out, overwrite=True, strict=True)
    (release / "rrsisd" / "refs(unc).p").write_bytes(b"\x80\x02cos\nsystem\n.")
    with pytest.raises(UnsafePickleError):
        build("rrsis-d", release, out, overwrite=True)
    assert _hashes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "raw"]


def test_xml_cross_check(release: Path, tmp_path: Path) -> None:
    xml = release / "images" / "rrsisd" / "ann_split"
    text = (xml / "00110.xml").read_text()
    (xml / "00110.xml").write_text(
        text.replace("The green and brown baseball field", "A different sentence").replace(
            "<split>val</split>", "<split>test</split>"
        )
    )
    (xml / "07855.xml").unlink()
    result = validate("rrsis-d", release)
    disagree = [f for f in result.report.findings if f.rule == "xml-disagrees"]
    assert [f.message for f in disagree] == [
        "ann_split/00110.xml: split 'test', refs say 'val'; description 'A different sentence', "
        "refs sentence 'The green and brown baseball field'"
    ]
    missing = [f.message for f in result.report.findings if f.rule == "xml-missing"]
    assert missing == ["no ann_split/07855.xml for images/rrsisd/JPEGImages/07855.jpg"]


def test_no_xml_folder_skips_cross_check(tmp_path: Path) -> None:
    make_rrsisd_release(tmp_path / "raw", xml=False)
    result = validate("rrsis-d", tmp_path / "raw")
    assert "no ann_split XML folder; the XML cross-check was skipped" in [
        f.message for f in result.report.findings if f.rule == "layout"
    ]


def test_load_dataset_returns_every_split(release: Path, tmp_path: Path) -> None:
    import datasets

    build("rrsis-d", release, tmp_path / "out")
    ds = datasets.load_dataset(str(tmp_path / "out"), cache_dir=str(tmp_path / "hf"))
    assert sorted(ds) == ["test", "train", "val"]
    for split, n in EXPECTED_COUNTS.items():
        assert ds[split].num_rows == n
        assert ds[split].features == FEATURES
    row = ds["val"][0]
    assert row["image"].size == (row["width"], row["height"])
    assert row["expressions"][0]["target_type"] == 0
