"""Segmentation kinds, polygon repair and the box-convention decision."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from rrsis_bench import masks
from rrsis_bench.builders.polygons import repair_polygons
from rrsis_bench.builders.refer_boxes import decide_bbox_format
from rrsis_bench.builders.segmentation import SegmentationError, segmentation_kind, to_rle
from rrsis_bench.rules import FLAGS


def _rle(m: np.ndarray) -> dict:
    r = coco_mask.encode(np.asfortranarray(m))
    return {"size": list(r["size"]), "counts": r["counts"].decode()}


@pytest.mark.parametrize(
    ("seg", "kind"),
    [
        (None, "empty"),
        ([], "empty"),
        ({}, "empty"),
        ("", "empty"),
        ({"size": [2, 2], "counts": "04"}, "rle"),
        ({"size": [2, 2], "counts": [0, 4]}, "uncompressed_rle"),
        ([{"size": [2, 2], "counts": "04"}], "rle_list"),
        ([[0, 0, 1, 0, 1, 1]], "polygons"),
        ([0, 0, 1, 0, 1, 1], "polygons"),
        ("polygon", "unknown"),
        ([{"size": [2, 2], "counts": "04"}, [0, 0, 1, 1]], "unknown"),
        (42, "unknown"),
    ],
)
def test_kinds(seg: object, kind: str) -> None:
    assert segmentation_kind(seg) == kind


def test_every_kind_gives_the_same_mask() -> None:
    m = np.zeros((6, 8), np.uint8)
    m[1:4, 2:6] = 1
    rle = _rle(m)
    flat = m.flatten(order="F")
    runs, prev, n = [], 0, 0
    for v in flat:
        if v != prev:
            runs.append(n)
            n, prev = 0, int(v)
        n += 1
    runs.append(n)
    for seg, kind in [
        (rle, "rle"),
        ([rle], "rle_list"),
        ({"size": [6, 8], "counts": runs}, "uncompressed_rle"),
        ([[2, 1, 6, 1, 6, 4, 2, 4]], "polygons"),
        ([2, 1, 6, 1, 6, 4, 2, 4], "polygons"),
    ]:
        d = to_rle(seg, 6, 8)
        assert d.kind == kind
        assert np.array_equal(masks.decode(d.rle), m), kind
        assert d.flags == []
    empty = to_rle([], 6, 8)
    assert (empty.kind, masks.area(empty.rle), empty.rle["size"]) == ("empty", 0, [6, 8])


def test_rle_list_is_a_union_not_a_sum() -> None:
    a = np.zeros((4, 4), np.uint8)
    a[0:2, 0:2] = 1
    b = np.zeros((4, 4), np.uint8)
    b[1:3, 1:3] = 1
    d = to_rle([_rle(a), _rle(b)], 4, 4)
    assert np.array_equal(masks.decode(d.rle), a | b)  # REFER's np.sum would erase (1, 1)


@pytest.mark.parametrize(
    ("seg", "message"),
    [
        ({"size": [4, 4], "counts": "0000"}, "RLE counts do not decode to 4×4 pixels"),
        ({"size": [4], "counts": "04"}, "RLE size [4] is not [height, width]"),
        ({"size": [2, 2], "counts": [1, 2]}, "uncompressed RLE runs cover 3 pixels, not 2×2"),
        (
            {"size": [2, 2], "counts": [1, -1, 4]},
            "uncompressed RLE counts are not non-negative integers",
        ),
        (
            [{"size": [2, 2], "counts": "04"}, {"size": [3, 3], "counts": "09"}],
            "the RLEs of one segmentation have different sizes [(2, 2), (3, 3)]",
        ),
        ([[0, 0, 1, "a", 1, 1]], "polygon 0 is not a flat list of numbers"),
        (42, "unrecognised segmentation of type int"),
    ],
)
def test_undecodable(seg: object, message: str) -> None:
    with pytest.raises(SegmentationError) as info:
        to_rle(seg, 2, 2)
    assert str(info.value) == message


def test_polygon_checks_and_repair() -> None:
    r = repair_polygons([[0, 0, 10, 10, 10, 0, 0, 10]], 20, 20)
    assert r.flags == {"polygon_repaired"} and len(r.exteriors) == 2 and r.holes == []
    r = repair_polygons([[0, 0, 4, 4]], 20, 20)
    assert r.flags == {"polygon_invalid"} and r.exteriors == []
    assert r.problems == ["polygon 0 has 2 distinct points, fewer than 3 (dropped)"]
    r = repair_polygons([[0, 0, 4, 0, 4, 4, 0]], 20, 20)
    assert r.flags == {"polygon_invalid"}
    assert r.problems[0] == "polygon 0 has an odd number of coordinates (7)"
    r = repair_polygons([[0, 0, 4, 0, float("nan"), 4]], 20, 20)
    assert r.problems == ["polygon 0 has non-finite coordinates (dropped)"]
    r = repair_polygons([[0, 0, 5, 5, 10, 10]], 20, 20)  # collinear: nothing survives make_valid
    assert r.flags == {"polygon_invalid"} and r.exteriors == [[0, 0, 5, 5, 10, 10]]
    r = repair_polygons([[-5, 0, 10, 0, 10, 10, -5, 10]], 20, 20)
    assert r.flags == {"polygon_clipped"}
    r = repair_polygons([[0, 0, 10, 10, 10, 0, 0, 10]], 20, 20, repair=False)
    assert r.flags == {"polygon_invalid"}
    # the flag's description says both things the code does with it
    assert FLAGS["polygon_invalid"] == (
        "a polygon with fewer than 3 distinct points or non-finite coordinates was dropped (of "
        "an odd number of coordinates, the last one); an invalid ring left unrepaired was "
        "rasterised as given"
    )


def test_repair_cuts_holes() -> None:
    # a ring that runs around a square and back through it: make_valid leaves a hole
    ring = [0, 0, 10, 0, 10, 10, 0, 10, 0, 0, 3, 3, 3, 7, 7, 7, 7, 3, 3, 3]
    d = to_rle([ring], 12, 12)
    assert d.flags == ["polygon_repaired"]
    m = masks.decode(d.rle)
    assert m[5, 5] == 0 and m[1, 1] == 1


def test_box_convention_decision() -> None:
    extent = [10.0, 10.0, 10.0, 20.0]
    xyxy = [([10, 10, 20, 30], extent, 100, 100)] * 3
    xywh = [([10, 10, 10, 20], extent, 100, 100)]
    d = decide_bbox_format(xyxy + xywh)
    assert (d.format, d.samples, d.votes_xyxy, d.votes_xywh) == ("xyxy", 4, 3, 1)
    assert decide_bbox_format(xywh).format == "xywh"
    assert decide_bbox_format([]).format == "xywh"
    assert decide_bbox_format([]).message() == (
        "boxes read as [x, y, w, h] (decided from the data; no annotation with a mask and a box to compare)"
    )
    forced = decide_bbox_format(xyxy, forced="xywh")
    assert forced.format == "xywh" and forced.forced
    # impossible as xywh (beyond the image) -> xyxy even without overlap evidence
    assert (
        decide_bbox_format([([60, 60, 90, 90], [60.0, 60.0, 30.0, 30.0], 100, 100)]).format
        == "xyxy"
    )
