"""ground_truth.verify_ground_truth: shards checked against the sha256 in the manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from data.scoring.data import GtCase, rewrite_mask, write_gt_dataset

from rrsis_bench.errors import DatasetNotFoundError, IntegrityError
from rrsis_bench.ground_truth import verify_ground_truth
from rrsis_bench.store import open_dataset


def _box(h: int = 10, w: int = 12) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[2:6, 3:9] = 1
    return m


@pytest.fixture
def built(tmp_path: Path) -> Path:
    gts = [GtCase(f"s{k}", _box()) for k in range(3)]
    gts.append(GtCase("v0", _box(), split="val"))
    return write_gt_dataset(tmp_path / "ds", gts)


def test_a_pristine_build_verifies(built: Path) -> None:
    verify_ground_truth(open_dataset(built), ["val", "test"], progress=False)


def test_a_rewritten_mask_names_the_shard(built: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    shard = rewrite_mask(copy, "test", "s1", np.zeros((10, 12), np.uint8))
    ds = open_dataset(copy)
    verify_ground_truth(ds, ["val"], progress=False)  # only the scored splits are read
    with pytest.raises(IntegrityError) as exc:
        verify_ground_truth(ds, ["val", "test"], progress=False)
    msg = str(exc.value)
    assert msg.startswith(f"{shard}: shard of split test was modified or damaged since the build")
    assert msg.endswith(
        f"rebuild it (`rrsis-bench build toy-scoring --raw DIR --out {copy} --overwrite`), "
        "or pass --no-verify to score it anyway"
    )
    assert "\n" not in msg


def test_a_missing_shard_and_an_edited_manifest(built: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    rel = manifest["splits"]["test"]["shards"][0]
    manifest["shards"][rel] = "0" * 64  # a shard hash edited without its split's gt_sha256
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(
        IntegrityError,
        match="the gt_sha256 of split test does not match the sha256 of its shards, so the "
        "manifest was edited; rebuild it",
    ):
        verify_ground_truth(open_dataset(copy), ["test"], progress=False)
    (built / rel).unlink()
    with pytest.raises(DatasetNotFoundError, match="shard of split test is missing; rebuild it"):
        verify_ground_truth(open_dataset(built), ["test"], progress=False)
