from __future__ import annotations

import numpy as np
import pytest
from data.rle_reference import reference_runs
from pycocotools import mask as coco_mask

from rrsis_bench import masks


def _mask(h: int = 6, w: int = 7) -> np.ndarray:
    m = np.zeros((h, w), dtype=np.uint8)
    m[1:4, 2:6] = 1
    return m


def test_encode_gives_string_counts_and_round_trips() -> None:
    m = _mask()
    rle = masks.encode(m)
    assert rle["size"] == [6, 7]
    assert isinstance(rle["counts"], str)
    assert np.array_equal(masks.decode(rle), m)


def test_encode_treats_any_nonzero_as_foreground() -> None:
    m = _mask() * 255
    assert masks.area(masks.encode(m)) == 12


def test_encode_rejects_3d() -> None:
    with pytest.raises(ValueError, match=r"Expected a 2-D mask, but got shape \(2, 2, 3\)"):
        masks.encode(np.zeros((2, 2, 3), dtype=np.uint8))


def test_area_bbox_and_empty() -> None:
    rle = masks.encode(_mask())
    assert masks.area(rle) == 12
    assert masks.bbox(rle) == [2.0, 1.0, 4.0, 3.0]
    e = masks.empty(6, 7)
    assert masks.area(e) == 0
    assert masks.bbox(e) == [0.0, 0.0, 0.0, 0.0]


def test_union_is_a_union_not_a_sum() -> None:
    a = _mask()
    b = np.zeros_like(a)
    b[2:6, 4:7] = 1  # overlaps a on rows 2-3, cols 4-5
    u = masks.union([masks.encode(a), masks.encode(b)])
    assert np.array_equal(masks.decode(u), ((a + b) > 0).astype(np.uint8))
    assert masks.area(u) == 12 + 12 - 4
    assert masks.intersection_area(masks.encode(a), masks.encode(b)) == 4


def test_union_of_nothing_and_of_mixed_sizes() -> None:
    assert masks.area(masks.union([], 3, 4)) == 0
    with pytest.raises(ValueError, match="union\\(\\) of no masks needs height and width"):
        masks.union([])
    with pytest.raises(
        ValueError, match=r"Expected masks of one size, but got sizes \[\(2, 2\), \(3, 3\)\]"
    ):
        masks.union([masks.empty(2, 2), masks.empty(3, 3)])


def test_is_valid_checks_run_total() -> None:
    rle = masks.encode(_mask())
    assert masks.is_valid(rle)
    assert not masks.is_valid({"size": [6, 8], "counts": rle["counts"]})
    assert not masks.is_valid({"size": [6, 7], "counts": "!!!"})
    assert not masks.is_valid({"size": [6, 7]})
    assert not masks.is_valid("not an rle")


def test_runs_decoder_agrees_with_pycocotools() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        m = (rng.random((13, 17)) > 0.6).astype(np.uint8)
        rle = masks.encode(m)
        runs = reference_runs(rle["counts"].encode())
        # uncompressed RLE from pycocotools' own column-major run lengths
        flat = m.flatten(order="F")
        expected: list[int] = []
        value, n = 0, 0
        for px in flat:
            if px == value:
                n += 1
            else:
                expected.append(n)
                value, n = px, 1
        expected.append(n)
        assert runs == expected


def test_polygons_and_uncompressed() -> None:
    square = [1.0, 1.0, 4.0, 1.0, 4.0, 4.0, 1.0, 4.0]
    rle = masks.from_polygons([square], 6, 6)
    ref = coco_mask.merge(coco_mask.frPyObjects([square], 6, 6))
    assert masks.area(rle) == int(coco_mask.area(ref))
    assert masks.area(masks.from_polygons([[1.0, 1.0, 2.0, 2.0]], 6, 6)) == 0  # < 3 points ignored
    unc = {"size": [2, 3], "counts": [1, 2, 3]}
    out = masks.from_uncompressed(unc)
    assert masks.decode(out).flatten(order="F").tolist() == [0, 1, 1, 0, 0, 0]


def test_box_helpers() -> None:
    assert masks.xyxy_to_xywh([499, 34, 510, 61]) == [499.0, 34.0, 11.0, 27.0]
    assert masks.box_iou_xywh([0, 0, 2, 2], [1, 1, 2, 2]) == pytest.approx(1 / 7)
    assert masks.box_iou_xywh([0, 0, 0, 0], [0, 0, 0, 0]) == 0.0


def test_resize_nearest_matches_pil() -> None:
    from PIL import Image

    m = _mask(5, 9)
    out = masks.resize_nearest(m, 8, 4)
    ref = np.asarray(Image.fromarray(m * 255).resize((4, 8), Image.Resampling.NEAREST)) > 0
    assert out.shape == (8, 4)
    assert np.array_equal(out.astype(bool), ref)
    assert masks.resize_nearest(m, 5, 9) is m


def test_decode_refuses_corrupt_rle_before_pycocotools_sees_it() -> None:
    good = masks.encode(_mask())
    with pytest.raises(
        ValueError,
        match=r"Expected a compressed RLE whose runs cover its size \[6, 8\], but got a corrupt one",
    ):
        masks.decode({"size": [6, 8], "counts": good["counts"]})
    with pytest.raises(ValueError, match="but got a corrupt one"):
        masks.decode({"size": [6, 7], "counts": "0" + "o" * 20})  # a value over 60 bits


def test_rle_totals_marks_corrupt_strings() -> None:
    good = masks.encode(_mask())["counts"]
    assert masks.rle_totals([good, "!!", "", good.encode(), "é"]).tolist() == [42, -1, 0, 42, -1]
