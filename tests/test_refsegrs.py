"""RefSegRS builder on the miniature release of tests/data/refsegrs/data.py."""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from data.refsegrs.data import mask_array, write_refsegrs, zip_release
from pycocotools import mask as coco_mask

from rrsis_bench.builders import build, validate
from rrsis_bench.errors import BuildError, DatasetNotFoundError, FormatError, UnsafeArchiveError
from rrsis_bench.registry import get_spec
from rrsis_bench.schema import FEATURES, TARGET_TYPES
from rrsis_bench.store import open_dataset


def _rows(path: Path) -> dict[str, dict]:
    ds = open_dataset(path)
    out = {}
    for split in ds.splits:
        for row in ds.iter_rows(
            split,
            columns=["image_id", "split", "file_name", "width", "height", "objects", "expressions"],
        ):
            out[row["image_id"]] = row
    return out


def _coco_rle(arr: np.ndarray) -> dict:
    rle = coco_mask.encode(np.asfortranarray((arr > 50).astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode()}


def _tree_hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The parent folder holding RefSegRS/ (the defects included)."""
    parent = tmp_path_factory.mktemp("refsegrs_raw")
    write_refsegrs(parent)
    return parent


@pytest.fixture(scope="module")
def built(raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("refsegrs_built") / "refsegrs"
    build("refsegrs", raw, out)
    return out


def test_registry_spec() -> None:
    spec = get_spec("RefSegRS")
    assert spec.name == "refsegrs"
    assert spec.licence == "CC-BY-4.0"
    assert spec.published_counts == {"train": 2172, "val": 431, "test": 1817, "total": 4420}
    assert spec.published_unit == "expressions"
    assert "RefSegRS.zip" in spec.download
    assert "480×480" in spec.protocol


def test_exact_counts_per_split(built: Path) -> None:
    manifest = open_dataset(built).manifest
    assert {s: v["images"] for s, v in manifest["splits"].items()} == {
        "train": 9,
        "val": 6,
        "test": 4,
    }
    assert {s: v["expressions"] for s, v in manifest["splits"].items()} == {
        "train": 9,
        "val": 6,
        "test": 4,
    }
    assert manifest["counts"] == {"images": 19, "expressions": 19, "objects": 0}
    assert manifest["options"]["mask_rule"] == "value > 50"
    assert manifest["options"]["phrase_files"] == {
        "train": "output_phrase_train.txt",
        "val": "output_phrase_val.txt",
        "test": "output_phrase_test.txt",
    }


def test_validation_findings_by_rule(built: Path) -> None:
    v = open_dataset(built).validation()
    assert v["summary"] == {"error": 2, "warning": 6, "info": 15}
    assert {rule: r["count"] for rule, r in v["rules"].items()} == {
        "image-unreadable": 1,
        "line-malformed": 1,
        "file-orphan": 2,
        "line-duplicate": 1,
        "mask-empty": 1,
        "mask-values": 1,
        "tile-cross-split": 1,
        "count-differs": 4,
        "layout": 1,
        "mask-value-set": 1,
        "synonym-group": 3,
        "text-noise": 2,
        "tile-duplicate": 4,
    }
    messages = {f["rule"]: f["message"] for f in v["findings"]}
    assert messages["line-malformed"] == (
        "output_phrase_train.txt:4: the first token 'abc12' is not an id matching `\\d+`; "
        "expected `<id> <expression>`"
    )
    assert messages["line-duplicate"] == (
        "output_phrase_test.txt:5: repeats line 2 (945 'impervious surface'); kept once"
    )
    assert messages["mask-values"] == (
        "masks/896.tif: values {0, 30, 128, 255}; binarised with value > 50"
    )
    assert messages["mask-value-set"] == (
        "19 masks hold the values {0, 30, 128, 255}: {0, 255} in 17; {0} in 1; "
        "{0, 30, 128, 255} in 1; binarised with value > 50"
    )
    assert (
        messages["tile-cross-split"] == "one tile is in train and test: 2919 (train), 3080 (test)"
    )
    assert messages["image-unreadable"].startswith("images/1298.tif: truncated: TIFF image data")
    orphans = sorted(f["file"] for f in v["findings"] if f["rule"] == "file-orphan")
    assert orphans == ["images/9999.tif", "masks/9999.tif"]
    synonyms = sorted(f["message"] for f in v["findings"] if f["rule"] == "synonym-group")
    assert synonyms == [
        "2 expressions, one tile and one mask: 2919 'car'; 3080 'vehicle'",
        "3 expressions, one tile and one mask: 25 'light-duty vehicle driving on the road'; "
        "1489 'car driving on the road'; 4497 'vehicle driving on the road'",
        "3 expressions, one tile and one mask: 948 'vehicle in the parking area'; "
        "3220 'light-duty vehicle in the parking area'; 4563 'car in the parking area'",
    ]
    noise = sorted(f["message"] for f in v["findings"] if f["rule"] == "text-noise")
    assert noise == [
        "output_phrase_test.txt:4: irregular spacing in 'building  along the road'",
        "output_phrase_val.txt: 6 lines end with CRLF; the CR was removed "
        "(expressions flagged text_normalized)",
    ]


def test_exact_content_of_chosen_samples(built: Path) -> None:
    rows = _rows(built)
    assert sorted(rows, key=int) == [
        "25", "39", "387", "472", "896", "945", "948", "1361", "1489", "1933",
        "2339", "2919", "3080", "3220", "4213", "4444", "4483", "4497", "4563",
    ]  # fmt: skip
    van = rows["4213"]
    assert (van["split"], van["file_name"], van["width"], van["height"]) == (
        "test",
        "images/4213.tif",
        32,
        32,
    )
    assert van["objects"] == []
    (e,) = van["expressions"]
    expected = np.zeros((32, 32), np.uint8)
    expected[10:14, 5:21] = 255
    assert e["mask"] == _coco_rle(expected)
    assert e["area"] == 64
    assert (e["sample_id"], e["text"], e["ref_key"]) == ("4213", "van driving on the road", "4213")
    assert TARGET_TYPES[e["target_type"]] == "single"
    assert e["categories"] == ["van", "road"]
    assert e["flags"] == ["category_from_text"]
    assert e["object_ids"] == []
    assert e["language"] == "en"
    assert e["provenance"] == {
        "file": "output_phrase_test.txt",
        "line": 1,
        "ref_ids": [],
        "ann_ids": [],
        "sent_ids": [],
    }

    grey = rows["896"]["expressions"][0]
    assert grey["area"] == 4 * 4 + 10 * 10
    assert grey["mask"] == _coco_rle(mask_array("grey"))
    assert grey["flags"] == ["category_from_text", "mask_binarized"]
    assert grey["categories"] == ["impervious surface"]

    empty = rows["472"]["expressions"][0]
    assert (empty["area"], TARGET_TYPES[empty["target_type"]]) == (0, "single")
    assert empty["flags"] == ["category_from_text", "empty_mask", "text_normalized"]
    assert empty["categories"] == ["road marking"]

    road = rows["39"]["expressions"][0]
    paved, unpaved = rows["1361"]["expressions"][0], rows["4483"]["expressions"][0]
    assert road["area"] == paved["area"] + unpaved["area"] == 224
    assert road["flags"] == ["category_from_text", "duplicate_tile"]

    assert rows["2919"]["expressions"][0]["flags"] == [
        "category_from_text",
        "cross_split_tile",
        "duplicate_tile",
        "synonym_group",
    ]
    assert rows["3080"]["split"] == "test"
    vehicle = rows["4497"]["expressions"][0]
    assert vehicle["flags"] == [
        "category_from_text",
        "duplicate_tile",
        "synonym_group",
        "text_normalized",
    ]
    assert vehicle["categories"] == ["vehicle", "road"]
    assert vehicle["mask"] == rows["1489"]["expressions"][0]["mask"]
    assert "1298" not in rows and "abc12" not in rows and "9999" not in rows


def test_found_at_either_level_gives_the_same_rows(raw: Path, tmp_path: Path) -> None:
    a = validate("refsegrs", raw)
    b = validate("refsegrs", raw / "RefSegRS")
    assert [r.file_name for r in a.records] == [r.file_name for r in b.records]
    assert a.records[0].file_name == "images/39.tif"
    assert a.counts == b.counts


def test_not_found(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as exc:
        validate("refsegrs", tmp_path)
    assert str(exc.value) == (
        f"{tmp_path}: no RefSegRS release found; expected output_phrase_train.txt, "
        "output_phrase_val.txt, output_phrase_test.txt beside images/ and masks/ in this "
        "folder or one below it, or RefSegRS.zip in this folder"
    )
    with pytest.raises(DatasetNotFoundError, match="the raw folder does not exist"):
        validate("refsegrs", tmp_path / "nowhere")
    note = tmp_path / "notes.txt"
    note.write_text("x")
    with pytest.raises(DatasetNotFoundError, match="is a file, not the RefSegRS folder"):
        validate("refsegrs", note)


def test_partial_download(raw: Path, tmp_path: Path) -> None:
    copy = tmp_path / "RefSegRS"
    shutil.copytree(raw / "RefSegRS", copy)
    shutil.rmtree(copy / "masks")
    (copy / "output_phrase_test.txt").unlink()
    with pytest.raises(DatasetNotFoundError) as exc:
        validate("refsegrs", tmp_path)
    assert str(exc.value) == (
        f"{copy}: incomplete RefSegRS release, missing the mask folder masks/, "
        "output_phrase_test.txt; download or extract the whole release again"
    )


def test_missing_files_are_per_sample_errors(raw: Path, tmp_path: Path) -> None:
    copy = tmp_path / "RefSegRS"
    shutil.copytree(raw / "RefSegRS", copy)
    (copy / "images" / "387.tif").unlink()
    (copy / "masks" / "4213.tif").unlink()
    result = validate("refsegrs", copy)
    rules = result.report.counts_by_rule()
    assert rules["image-missing"]["count"] == 1
    assert rules["image-missing"]["example"] == (
        "output_phrase_val.txt:4: no image file images/387.tif; sample skipped"
    )
    assert rules["mask-missing"]["example"] == (
        "output_phrase_test.txt:1: no mask file masks/4213.tif; sample skipped"
    )
    assert result.counts["val"]["expressions"] == 5
    assert result.counts["test"]["expressions"] == 3


def test_corrupt_image_with_sound_structure(raw: Path, tmp_path: Path) -> None:
    copy = tmp_path / "RefSegRS"
    shutil.copytree(raw / "RefSegRS", copy)
    from PIL import Image

    path = copy / "images" / "945.tif"
    with Image.open(path) as im:
        im.save(path, "TIFF", compression="tiff_deflate")
    data = bytearray(path.read_bytes())
    data[8:40] = b"\xff" * 32  # inside the deflate stream, which follows the 8-byte header
    path.write_bytes(bytes(data))
    result = validate("refsegrs", copy)
    unreadable = [f for f in result.report.sorted_findings() if f.rule == "image-unreadable"]
    assert [f.file for f in unreadable] == ["images/945.tif", "images/1298.tif"]
    assert unreadable[0].message.startswith("images/945.tif: cannot decode")
    assert result.counts["test"]["expressions"] == 3


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"\x00\x01\x02binary\x00",
            "holds NUL bytes: this is not a text phrase file (expected "
            "lines `<id> <expression>`); download or extract the release again",
        ),
        (
            b"\n \n",
            "is empty; expected one `<id> <expression>` line per sample. "
            "Download or extract the release again",
        ),
        (
            b"road\nfoo bar\n",
            "no line of the form `<id> <expression>` (2 unusable lines; "
            "first line: b'road'); is this a phrase file of this dataset?",
        ),
    ],
)
def test_malformed_phrase_file_is_structural(
    raw: Path, tmp_path: Path, content: bytes, message: str
) -> None:
    copy = tmp_path / "RefSegRS"
    shutil.copytree(raw / "RefSegRS", copy)
    (copy / "output_phrase_val.txt").write_bytes(content)
    with pytest.raises(FormatError) as exc:
        validate("refsegrs", copy)
    assert str(exc.value) == f"{copy / 'output_phrase_val.txt'}: {message}"


def test_zip_input_and_zip_inside_raw(raw: Path, tmp_path: Path) -> None:
    archive = zip_release(raw / "RefSegRS", tmp_path / "RefSegRS.zip")
    direct = validate("refsegrs", archive)
    beside = tmp_path / "downloads"
    beside.mkdir()
    shutil.copy(archive, beside / "RefSegRS.zip")
    inside = validate("refsegrs", beside)
    folder = validate("refsegrs", raw)
    assert direct.counts == inside.counts == folder.counts
    assert [r.file_name for r in direct.records] == [r.file_name for r in folder.records]
    home = Path(os.environ["RRSIS_BENCH_HOME"])
    assert len(list((home / "extracted").iterdir())) == 1  # the same archive is extracted once


def test_built_from_zip_equals_built_from_folder(raw: Path, built: Path, tmp_path: Path) -> None:
    archive = zip_release(raw / "RefSegRS", tmp_path / "RefSegRS.zip")
    out = tmp_path / "from_zip"
    build("refsegrs", archive, out)
    assert _tree_hashes(out) == _tree_hashes(built)


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("../evil.txt", "member '../evil.txt' contains '..'; refusing to extract"),
        ("/etc/evil.txt", "member '/etc/evil.txt' has an absolute path; refusing to extract"),
        ("RefSegRS/link", "member 'RefSegRS/link' is a link; refusing to extract"),
    ],
)
def test_hostile_zip_is_refused(raw: Path, tmp_path: Path, member: str, message: str) -> None:
    archive = zip_release(raw / "RefSegRS", tmp_path / "RefSegRS.zip")
    with zipfile.ZipFile(archive, "a") as zf:
        info = zipfile.ZipInfo(member)
        if member.endswith("link"):
            info.external_attr = 0o120777 << 16
            zf.writestr(info, "/etc/passwd")
        else:
            zf.writestr(info, "x")
    with pytest.raises(UnsafeArchiveError) as exc:
        validate("refsegrs", archive)
    assert str(exc.value) == f"{archive}: {message}"
    home = Path(os.environ["RRSIS_BENCH_HOME"])
    assert not (home / "extracted").exists() or not any((home / "extracted").iterdir())
    assert not (tmp_path / "evil.txt").exists()


def test_truncated_zip(raw: Path, tmp_path: Path) -> None:
    archive = zip_release(raw / "RefSegRS", tmp_path / "RefSegRS.zip")
    archive.write_bytes(archive.read_bytes()[:1000])
    with pytest.raises(FormatError, match="not a readable archive"):
        validate("refsegrs", archive)


def test_determinism_and_num_proc(raw: Path, built: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build("refsegrs", raw, again)
    parallel = tmp_path / "parallel"
    build("refsegrs", raw, parallel, num_proc=2)
    assert _tree_hashes(again) == _tree_hashes(built) == _tree_hashes(parallel)


def test_atomic_failed_rebuild_leaves_previous_build(raw: Path, tmp_path: Path) -> None:
    copy = tmp_path / "RefSegRS"
    shutil.copytree(raw / "RefSegRS", copy)
    out = tmp_path / "out"
    build("refsegrs", copy, out)
    before = _tree_hashes(out)
    (copy / "output_phrase_train.txt").write_bytes(b"\x00garbage")
    with pytest.raises(FormatError):
        build("refsegrs", copy, out, overwrite=True)
    assert _tree_hashes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["RefSegRS", "out"]


def test_load_dataset_with_features(built: Path) -> None:
    import datasets

    ds = datasets.load_dataset(str(built))
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 9, "val": 6, "test": 4}
    for split in ds.values():
        assert split.features == FEATURES
    row = ds["test"].filter(lambda r: r["image_id"] == "4213")[0]
    assert row["image"].size == (32, 32)
    assert row["expressions"][0]["text"] == "van driving on the road"


def test_pre_release_alias_layout(raw: Path, tmp_path: Path) -> None:
    old = tmp_path / "new_dataset2"
    shutil.copytree(raw / "RefSegRS", old)
    (old / "images").rename(old / "images2")
    (old / "masks").rename(old / "masks2")
    (old / "output_phrase_val.txt").rename(old / "output_phrase_val3.txt")
    (old / "output_phrase_test.txt").rename(old / "output_phrase_test3.txt")
    out = tmp_path / "out"
    build("refsegrs", tmp_path, out)
    manifest = open_dataset(out).manifest
    assert manifest["counts"]["expressions"] == 19
    assert (manifest["options"]["image_dir"], manifest["options"]["mask_dir"]) == (
        "images2",
        "masks2",
    )
    assert manifest["options"]["phrase_files"] == {
        "train": "output_phrase_train.txt",
        "val": "output_phrase_val3.txt",
        "test": "output_phrase_test3.txt",
    }
    assert _rows(out)["4213"]["file_name"] == "images2/4213.tif"


def test_atomic_failure_while_writing_shards(
    raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    build("refsegrs", raw, out)
    before = _tree_hashes(out)
    import rrsis_bench.store as store

    real = store._read_image_bytes
    calls = {"n": 0}

    def flaky(rec):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 5:
            raise BuildError(f"{rec.source}: vanished during the build")
        return real(rec)

    monkeypatch.setattr(store, "_read_image_bytes", flaky)
    with pytest.raises(BuildError, match="vanished during the build"):
        build("refsegrs", raw, out, overwrite=True)
    assert calls["n"] == 5
    assert _tree_hashes(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
