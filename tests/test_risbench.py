"""RISBench builder on the miniature release of tests/data/risbench/data.py."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from data.risbench.data import ORACLE_RLE, ORACLE_TEXT, write_risbench

from rrsis_bench import masks
from rrsis_bench.builders import build, validate
from rrsis_bench.builders.risbench import CATEGORIES, DICOR_EXCLUDED
from rrsis_bench.registry import get_spec
from rrsis_bench.store import open_dataset


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("risbench_raw")
    write_risbench(parent)
    return parent


@pytest.fixture(scope="module")
def built(raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("risbench_built") / "risbench"
    build("risbench", raw, out)
    return out


def _expressions(path: Path) -> dict[str, dict]:
    ds = open_dataset(path)
    return {
        row["image_id"]: {**row["expressions"][0], "split": row["split"], "file": row["file_name"]}
        for split in ds.splits
        for row in ds.iter_rows(split, columns=["image_id", "split", "file_name", "expressions"])
    }


def test_spec_and_constants() -> None:
    spec = get_spec("risbench")
    assert spec.licence == "CC-BY-4.0"
    assert spec.published_counts == {"train": 26300, "val": 10013, "test": 16159, "total": 52472}
    assert len(CATEGORIES) == len(set(CATEGORIES)) == 26
    assert len(DICOR_EXCLUDED) == 16
    assert "train_819_1" in DICOR_EXCLUDED


def test_counts_ids_and_file_names(built: Path) -> None:
    exprs = _expressions(built)
    assert {s: v["expressions"] for s, v in open_dataset(built).manifest["splits"].items()} == {
        "train": 5,
        "val": 2,
        "test": 2,
    }
    assert sorted(k for k, v in exprs.items() if v["split"] == "val") == [
        "train_14700_0",
        "train_14703_0",
    ]
    assert exprs["train_14703_0"]["file"] == "img_rgb/train_14703_0.png"
    assert exprs["train_14703_0"]["sample_id"] == "train_14703_0"


def test_real_val_row_oracle(built: Path) -> None:
    e = _expressions(built)["train_14703_0"]
    assert e["text"] == ORACLE_TEXT
    assert e["mask"] == ORACLE_RLE
    assert e["area"] == 237
    assert masks.bbox(e["mask"]) == [246.0, 471.0, 10.0, 27.0]
    assert e["categories"] == ["vehicle"]
    assert e["flags"] == ["category_from_text"]


def test_flags_exclusions_noise_and_categories(built: Path) -> None:
    exprs = _expressions(built)
    assert exprs["train_819_1"]["flags"] == ["category_from_text", "excluded_dicor"]
    assert exprs["train_6194_0"]["flags"] == ["category_from_text", "excluded_dicor"]
    assert exprs["train_1_0"]["flags"] == ["category_from_text", "duplicate_tile"]
    assert exprs["train_1_0"]["mask"] != exprs["train_1_1"]["mask"]
    ship = exprs["train_20_0"]
    assert ship["text"] == "A ship  docked at the harbor ."
    assert ship["categories"] == ["ship", "harbor"]
    assert exprs["test_5_1"]["categories"] == ["vehicle"]
    assert exprs["test_5_1"]["area"] == 8
    v = open_dataset(built).validation()
    assert v["summary"] == {"error": 0, "warning": 0, "info": 10}
    by_rule = {f["rule"]: f["message"] for f in v["findings"]}
    assert by_rule["excluded-list"] == (
        "2 of the 16 ids on the list behind flag excluded_dicor are present "
        "(train_819_1, train_6194_0); flagged, kept"
    )
    assert by_rule["text-noise"] == (
        "output_phrase_train.txt:3: irregular spacing in 'A ship  docked at the harbor .'"
    )
    assert by_rule["mask-value-set"] == (
        "9 masks hold the values {0, 255}: {0, 255} in 9; binarised with value > 50; "
        "1 mask: RGB mask with identical channels: one channel used"
    )


def test_alias_folders_and_root_level(tmp_path: Path) -> None:
    write_risbench(tmp_path, top=None, image_dir="images", mask_dir="masks")
    result = validate("risbench", tmp_path)
    assert result.counts["train"]["expressions"] == 5
    assert result.records[0].file_name == "images/train_1_0.png"
    layout = [f.message for f in result.report.findings if f.rule == "layout"]
    assert layout[0].startswith("images/ (9 files), masks/ (9 files)")


def test_determinism(raw: Path, built: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build("risbench", raw, again, num_proc=2)

    def hashes(folder: Path) -> dict[str, str]:
        return {
            p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in folder.rglob("*")
            if p.is_file()
        }

    assert hashes(again) == hashes(built)
