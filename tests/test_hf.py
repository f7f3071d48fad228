from __future__ import annotations

from pathlib import Path

import datasets
import numpy as np
import pytest
from data.interop.data import COUNTS, expected_masks, write_built

import rrsis_bench
from rrsis_bench import masks
from rrsis_bench.errors import DatasetNotFoundError, UnknownNameError
from rrsis_bench.hf import expressions, load


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_built(tmp_path_factory.mktemp("hf"))


def _expression(row: dict, sample_id: str) -> dict:
    return next(e for e in row["expressions"] if e["sample_id"] == sample_id)


def test_load_dataset_reads_a_build_and_copies_it_into_the_cache(built: Path, tmp_path: Path):
    cache = tmp_path / "hf-cache"
    ds = datasets.load_dataset(str(built), cache_dir=str(cache))
    assert {s: ds[s].num_rows for s in ds} == {s: c["images"] for s, c in COUNTS.items()}
    train = ds["train"]
    assert train.features["expressions"].feature["target_type"].names == ["single", "multi", "none"]
    row = train[0]
    assert row["image_id"] == "1"
    assert row["image"].size == (64, 48)
    e = _expression(row, "2")
    assert e["target_type"] == 1  # ClassLabel: multi
    expected = expected_masks(tmp_path)["2"]
    assert np.array_equal(masks.decode(e["mask"]), expected)
    # the measurement behind rrsis_bench.load: load_dataset writes an Arrow copy of every split
    arrow = sorted(p.name.split("-")[-1] for p in cache.rglob("*.arrow"))
    assert arrow == ["test.arrow", "train.arrow", "val.arrow"]


def test_load_returns_the_same_rows_without_writing_a_cache(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    ds = rrsis_bench.load(built)
    assert isinstance(ds, datasets.DatasetDict)
    assert list(ds) == ["train", "val", "test"]
    assert {s: ds[s].num_rows for s in ds} == {s: c["images"] for s, c in COUNTS.items()}
    assert ds["train"].cache_files == []
    assert not list(cache.rglob("*.arrow"))
    reference = datasets.load_dataset(str(built), cache_dir=str(tmp_path / "other"))
    for split in ds:
        assert ds[split].features == reference[split].features
        mine = ds[split].remove_columns("image").to_list()
        theirs = reference[split].remove_columns("image").to_list()
        assert mine == theirs
        assert [r["image"].tobytes() for r in ds[split]] == [
            r["image"].tobytes() for r in reference[split]
        ]


def test_load_one_split_selected_columns_and_alias(built: Path, tmp_path: Path):
    val = load(built, "validation", columns=["expressions", "image_id"])
    assert isinstance(val, datasets.Dataset)
    assert val.column_names == ["image_id", "expressions"]
    assert val.num_rows == 1
    e = _expression(val[0], "9")
    assert e["text"] == "the left car"
    assert np.array_equal(masks.decode(e["mask"]), expected_masks(tmp_path)["9"])


def test_load_streaming_yields_every_row_in_order(built: Path):
    stream = load(built, streaming=True)
    assert isinstance(stream, datasets.IterableDatasetDict)
    ids = [r["image_id"] for r in stream["train"]]
    assert ids == ["1", "2", "10"]
    first = next(iter(load(built, "test", streaming=True)))
    assert first["image"].size == (64, 48)
    assert [e["sample_id"] for e in first["expressions"]] == ["10", "11"]


def test_load_errors_name_the_problem(built: Path, tmp_path: Path):
    with pytest.raises(UnknownNameError, match=r"Expected column to be one of image_id, image"):
        load(built, columns=["pixels"])
    build_only_test = tmp_path / "missing"
    with pytest.raises(DatasetNotFoundError, match="not a built dataset"):
        build_only_test.mkdir()
        load(build_only_test)
    with pytest.raises(UnknownNameError, match="Expected split to be one of train, val, test"):
        load(built, "dev2")


def test_expressions_helper_filters(built: Path):
    view = expressions(built, "train", target_types=["single"], languages=["en"])
    assert view.sample_ids == ["1", "3-0", "3-1", "4"]


def test_load_joins_several_shards_per_split(tmp_path: Path):
    built = write_built(tmp_path, max_shard_bytes=1)
    train = load(built, "train")
    assert len(list((built / "data").glob("train-*.parquet"))) == 3
    assert train["image_id"] == ["1", "2", "10"]
    assert [len(r["expressions"]) for r in train] == [4, 2, 2]
    streamed = [r["image_id"] for r in load(built, "train", streaming=True)]
    assert streamed == ["1", "2", "10"]
