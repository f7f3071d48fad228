"""The vectorised RLE counts decoder behind `masks.is_valid` agrees with the reference one."""

from __future__ import annotations

import numpy as np
import pytest
from data.rle_reference import reference_runs
from pycocotools import mask as coco_mask

from rrsis_bench import masks


def test_vectorised_runs_match_the_python_decoder() -> None:
    rng = np.random.default_rng(7)
    for trial in range(300):
        h, w = (int(v) for v in rng.integers(1, 90, 2))
        m = (rng.random((h, w)) < rng.uniform(0, 1)).astype(np.uint8)
        if trial % 3 == 0:
            m[:] = 0
            m[: h // 2, : w // 3] = 1
        counts = coco_mask.encode(np.asfortranarray(m))["counts"]
        fast = masks.rle_runs(counts)
        assert fast is not None
        assert fast.tolist() == reference_runs(counts)
        assert int(fast.sum()) == h * w


@pytest.mark.parametrize("counts", [b"0000", b"!!!", b"1O10", b"\x7f", b"P", b"Pa"])
def test_malformed_strings_agree(counts: bytes) -> None:
    try:
        reference = sum(reference_runs(counts))
    except ValueError:
        reference = None
    fast = masks.rle_runs(counts)
    assert (None if fast is None else int(fast.sum())) == reference


def test_large_masks() -> None:
    m = np.zeros((2048, 2048), np.uint8)
    m[100:1900, 5:2000] = 1
    rle = masks.encode(m)
    assert masks.is_valid(rle)
    assert not masks.is_valid({"size": [2048, 2047], "counts": rle["counts"]})
    assert masks.rle_runs(rle["counts"].encode()).tolist() == reference_runs(rle["counts"].encode())


def test_batch_validity_matches_single() -> None:
    rng = np.random.default_rng(3)
    rles = []
    for _ in range(400):
        h, w = (int(v) for v in rng.integers(1, 60, 2))
        rles.append(masks.encode((rng.random((h, w)) < rng.uniform(0, 1)).astype(np.uint8)))
    bad = [
        {"size": [4, 4], "counts": "0000"},
        {"size": [2, 2], "counts": "P"},
        "junk",
        {"size": [3, 3], "counts": "!!"},
        {"size": [0, 0], "counts": ""},
        {"size": [2, 2], "counts": ""},
        {"size": [6, 7], "counts": rles[0]["counts"]},
        {"size": [-1, 4], "counts": "04"},
    ]
    mixed = rles[:5] + bad + rles[5:] + bad
    assert masks.are_valid(mixed).tolist() == [masks.is_valid(r) for r in mixed]
    assert masks.are_valid([]).tolist() == []
