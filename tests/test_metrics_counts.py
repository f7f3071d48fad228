"""Counting from RLE vs decoded masks (property-based), the resizing rules, the bootstrap."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from data.rle_reference import reference_runs
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from rrsis_bench import masks
from rrsis_bench.masks import rle_runs, rle_totals
from rrsis_bench.metrics import (
    bootstrap_ci,
    count_dense_rle,
    count_masks,
    count_rles,
    paired_bootstrap,
)
from rrsis_bench.metrics.resize import letterbox, letterbox_shape, opencv_nearest, pil_nearest
from rrsis_bench.predictions import rle_problem


@st.composite
def mask_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    h = draw(st.integers(0, 40))
    w = draw(st.integers(0, 40))
    kind = draw(st.sampled_from(["random", "blocks", "empty", "full"]))
    if kind == "random":
        a = draw(arrays(np.uint8, (h, w), elements=st.integers(0, 1)))
        b = draw(arrays(np.uint8, (h, w), elements=st.integers(0, 1)))
    elif kind == "blocks":
        a, b = np.zeros((h, w), np.uint8), np.zeros((h, w), np.uint8)
        for m in (a, b):
            y0, x0 = draw(st.integers(0, max(0, h))), draw(st.integers(0, max(0, w)))
            m[y0 : y0 + draw(st.integers(0, 20)), x0 : x0 + draw(st.integers(0, 20))] = 1
    else:
        fill = 0 if kind == "empty" else 1
        a = np.full((h, w), fill, np.uint8)
        b = draw(arrays(np.uint8, (h, w), elements=st.integers(0, 1)))
    return a, b


@settings(max_examples=300, deadline=None)
@given(mask_pairs(), st.sampled_from([None, True, False]), st.booleans())
def test_rle_counts_equal_decoded_counts(pair, no_target, gt_empty) -> None:
    pred, gt = pair
    from_rle = count_rles(
        masks.encode(pred), masks.encode(gt), gt_empty=gt_empty, no_target=no_target
    )
    decoded = count_masks(pred, gt, gt_empty=gt_empty, no_target=no_target)
    assert from_rle == decoded
    dense = count_dense_rle(pred * 3, masks.encode(gt), gt_empty=gt_empty, no_target=no_target)
    assert dense == decoded
    # and both agree with the definition
    i = int(np.logical_and(pred, gt).sum())
    assert (decoded.i, decoded.u) == (i, int(np.logical_or(pred, gt).sum()))


@settings(max_examples=200, deadline=None)
@given(mask_pairs())
def test_vectorised_rle_runs_match_the_reference_decoder(pair) -> None:
    rle = masks.encode(pair[0])
    assert rle_runs(rle["counts"]).tolist() == reference_runs(rle["counts"].encode())
    assert rle_problem(rle) is None


def test_rle_runs_large_values_and_corrupt_strings() -> None:
    m = np.zeros((2048, 2048), np.uint8)
    m[1000:1001, 5:2000] = 1
    rle = masks.encode(m)
    assert rle_runs(rle["counts"]).tolist() == reference_runs(rle["counts"].encode())
    assert rle_problem({"size": [3, 3], "counts": "0000"}) == (
        "RLE counts are corrupt (their runs do not cover height*width pixels)"
    )
    assert rle_problem({"size": [3, 3], "counts": "é"}) is not None
    assert rle_problem({"size": [3], "counts": ""}).startswith("RLE size must be [height, width]")
    assert rle_problem({"counts": ""}) == "mask is not an RLE object with 'size' and 'counts'"
    assert rle_problem({"size": [2, 2], "counts": [1, 2, 1]}) is None
    assert rle_problem({"size": [2, 2], "counts": [1, 2]}) is not None


@settings(max_examples=150, deadline=None)
@given(
    st.integers(1, 90),
    st.integers(1, 90),
    st.integers(1, 300),
    st.integers(1, 300),
    st.integers(0, 2**31),
)
def test_opencv_nearest_matches_opencv(h, w, dh, dw, seed) -> None:
    m = np.random.default_rng(seed).integers(0, 2, (h, w), dtype=np.uint8)
    want = cv2.resize(m, (dw, dh), interpolation=cv2.INTER_NEAREST)
    assert np.array_equal(opencv_nearest(m, dh, dw), want)


@pytest.mark.parametrize(("h", "w"), [(800, 800), (600, 800), (1000, 700), (3, 1024), (97, 13)])
def test_letterbox_matches_opencv_pipeline(h: int, w: int) -> None:
    m = np.random.default_rng(h * w).integers(0, 2, (h, w), dtype=np.uint8)
    nh, nw = letterbox_shape(h, w, 1024)
    r = cv2.resize(m, (nw, nh), interpolation=cv2.INTER_NEAREST)
    ph, pw = 1024 - nh, 1024 - nw
    want = cv2.copyMakeBorder(
        r, ph // 2, ph - ph // 2, pw // 2, pw - pw // 2, cv2.BORDER_CONSTANT, value=0
    )
    assert np.array_equal(letterbox(m, 1024), want)


def test_letterbox_shape_truncates_like_the_peer() -> None:
    # int(700 * (1024 / 1000)) = int(716.8) = 716; width is the short side
    assert letterbox_shape(1000, 700, 1024) == (1024, 716)
    assert letterbox_shape(600, 800, 1024) == (768, 1024)


def test_pil_nearest_differs_from_opencv_nearest() -> None:
    m = np.zeros((800, 800), np.uint8)
    m[:, 1::2] = 1  # alternating columns separate the two sampling rules
    assert not np.array_equal(pil_nearest(m, 480, 480), opencv_nearest(m, 480, 480))
    assert pil_nearest(m, 800, 800) is m


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(3)
    u = rng.integers(50, 200, 300)
    i = (u * rng.random(300)).astype(np.int64)
    iou = i / u
    a = bootstrap_ci(i, u, iou, n_boot=500, seed=7)
    b = bootstrap_ci(i, u, iou, n_boot=500, seed=7)
    assert a == b
    assert a["n_boot"] == 500 and a["seed"] == 7 and a["method"] == "percentile"
    assert a["oiou"][0] < 100 * i.sum() / u.sum() < a["oiou"][1]
    assert a["miou"][0] < 100 * iou.mean() < a["miou"][1]
    assert bootstrap_ci(i, u, np.where(np.arange(300) == 0, np.nan, iou), n_boot=50)["miou"] is None
    assert bootstrap_ci(i[:0], u[:0], iou[:0])["oiou"] is None


def test_paired_bootstrap_of_identical_sets_is_zero() -> None:
    i, u = np.array([1, 2, 3, 4]), np.array([4, 4, 4, 4])
    same = paired_bootstrap((i, u, i / u), (i, u, i / u), n_boot=100, seed=1)
    assert same["oiou"] == [0.0, 0.0] and same["miou"] == [0.0, 0.0]
    better = paired_bootstrap((i, u, i / u), (u, u, u / u), n_boot=100, seed=1)
    assert better["oiou"][0] > 0 and better["miou"][0] > 0
    with pytest.raises(ValueError, match="Expected paired samples, but got 4 and 2"):
        paired_bootstrap((i, u, i / u), (i[:2], u[:2], i[:2] / u[:2]))


def _reference_total(counts: str) -> int:
    try:
        return sum(reference_runs(counts.encode("ascii")))
    except (ValueError, UnicodeEncodeError):
        return -1


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(mask_pairs(), st.sampled_from(["keep", "cut", "junk", "prefix"])), max_size=8
    )
)
def test_batch_rle_totals_match_one_by_one(items) -> None:
    strings = []
    for (m, _), how in items:
        s = masks.encode(m)["counts"]
        s = {"keep": s, "cut": s[:-1], "junk": s + "~", "prefix": "!" + s}[how]
        strings.append(s)
    got = rle_totals(strings).tolist()
    assert got == [_reference_total(s) for s in strings]
    assert got == [-1 if (r := rle_runs(s)) is None else int(r.sum()) for s in strings]
