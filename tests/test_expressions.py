from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from data.interop.data import expected_masks, write_built

from rrsis_bench.errors import UnknownNameError
from rrsis_bench.expressions import ExpressionView, SampleNotFoundError


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_built(tmp_path_factory.mktemp("expr"))


def test_counts_and_order(built: Path):
    view = ExpressionView(built)
    assert len(view) == 13
    assert view.counts() == {"single": 8, "multi": 2, "none": 3}
    assert view.num_images == 6
    assert view.sample_ids == [
        "1",
        "2",
        "3-0",
        "3-1",
        "4",
        "5",
        "6",
        "7",
        "8",
        "9",
        "10",
        "11",
        "12",
    ]
    assert view.splits == ["train", "val", "test"]
    assert len(ExpressionView(built, "test")) == 3
    assert len(ExpressionView(built, ["test", "train"])) == 11


def test_one_item_exact(built: Path, tmp_path: Path):
    view = ExpressionView(built, "train")
    item = view.by_sample_id("2")
    assert (item.image_id, item.split, item.file_name) == ("1", "train", "JPEGImages/1.jpg")
    assert (item.text, item.target_type, item.ref_key) == ("all vehicles", "multi", "2")
    assert item.object_ids == ["o1", "o2"]
    assert item.categories == ["vehicle"]
    expected = expected_masks(tmp_path)["2"]
    assert item.mask.dtype == np.uint8
    assert np.array_equal(item.mask, expected)
    assert item.area == int(expected.sum())
    assert item.image.size == (64, 48) and item.image.mode == "RGB"
    assert [o["object_id"] for o in item.objects] == ["o1", "o2", "o3"]
    d = item.to_dict()
    assert d["sample_id"] == "2" and d["mask"].shape == (48, 64)


def test_image_bytes_are_the_raw_files_and_shared(tmp_path: Path):
    built = write_built(tmp_path)
    view = ExpressionView(built)
    raw = tmp_path / "raw" / "tiny"
    for item in view:
        assert item.image_bytes == (raw / item.file_name).read_bytes()
    # the four expressions of image 1 point at one image entry: nothing is copied per expression
    assert {view.image_index(i) for i in range(4)} == {0}


def test_no_target_item_has_an_empty_mask(built: Path):
    item = ExpressionView(built).by_sample_id("5")
    assert item.target_type == "none"
    assert item.object_ids == [] and item.categories == []
    assert item.mask.shape == (48, 64) and int(item.mask.sum()) == 0


def test_filters(built: Path):
    view = ExpressionView(built)
    assert view.filter(target_types=["none"]).sample_ids == ["5", "6", "11"]
    assert view.filter(target_types="multi").sample_ids == ["2", "8"]
    assert view.filter(categories=["ship"]).sample_ids == ["1", "7", "12"]
    assert view.filter(languages=["zh"]).sample_ids == ["7"]
    assert view.filter(categories="airport", target_types=["single"]).sample_ids == ["4", "10"]
    narrowed = ExpressionView(built, "val", target_types=["single", "multi"])
    assert narrowed.sample_ids == ["8", "9"]
    with pytest.raises(
        UnknownNameError,
        match=r"Expected target type to be one of single, multi, none, but got 'several'",
    ):
        view.filter(target_types=["several"])


def test_shard_and_select_are_deterministic_partitions(built: Path):
    view = ExpressionView(built)
    parts = [view.shard(3, i).sample_ids for i in range(3)]
    assert [len(p) for p in parts] == [5, 4, 4]
    assert [x for p in parts for x in p] == view.sample_ids
    strided = [view.shard(3, i, contiguous=False).sample_ids for i in range(3)]
    assert sorted([x for p in strided for x in p]) == sorted(view.sample_ids)
    assert strided[1] == ["2", "4", "7", "10"]
    assert view.select([2, 0]).sample_ids == ["3-0", "1"]
    with pytest.raises(ValueError, match="Expected 0 <= index < num_shards, but got index=3"):
        view.shard(3, 3)


def test_missing_sample_and_index_errors(built: Path):
    view = ExpressionView(built, "val")
    with pytest.raises(SampleNotFoundError) as err:
        view.by_sample_id("nope")
    assert str(err.value) == f"no sample 'nope' in {built} (splits val, after filters)"
    with pytest.raises(IndexError, match="expression index 2 out of range for 2 expressions"):
        view[2]
    assert [e.sample_id for e in view[-1:]] == ["9"]


def test_view_pickles_without_open_files(built: Path):
    view = ExpressionView(built)
    first = view[0].image_bytes
    clone = pickle.loads(pickle.dumps(view))
    assert clone[0].image_bytes == first
    assert clone.sample_ids == view.sample_ids


def test_many_shards_and_row_groups(tmp_path: Path):
    built = write_built(tmp_path, max_shard_bytes=1)
    view = ExpressionView(built)
    assert len(view.dataset.shard_paths("train")) == 3
    raw = tmp_path / "raw" / "tiny"
    for item in view:
        assert item.image_bytes == (raw / item.file_name).read_bytes()
