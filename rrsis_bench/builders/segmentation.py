"""COCO ``segmentation`` values of every kind found in REFER-style releases, turned into RLE.

A segmentation is one of:

* ``rle``: a compressed RLE dict (``counts`` a string);
* ``rle_list``: a list of RLE dicts (RRSIS-D stores a list holding one); they are united,
  never summed (REFER's ``getMask`` sums the decoded stack, which erases overlaps);
* ``uncompressed_rle``: an RLE dict whose ``counts`` is a list of run lengths;
* ``polygons``: a list of flat ``[x1, y1, x2, y2, ...]`` lists (one flat list is accepted too),
  rasterised with pycocotools at the image's real size after the checks of
  :func:`rrsis_bench.builders.polygons.repair_polygons`;
* ``empty``: ``[]``, ``{}``, ``None`` or ``""``: an empty mask at the image size.

Anything else cannot be decoded and raises :class:`SegmentationError` (the caller records an
``rle-invalid`` finding and skips the annotation).

Example:
    >>> decoded = to_rle([[1, 1, 4, 1, 4, 3, 1, 3]], height=5, width=6)
    >>> decoded.kind, decoded.rle["size"], decoded.flags
    ('polygons', [5, 6], [])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rrsis_bench import masks
from rrsis_bench.builders.polygons import repair_polygons
from rrsis_bench.schema import Rle

SegmentationKind = Literal["rle", "rle_list", "uncompressed_rle", "polygons", "empty", "unknown"]
SEGMENTATION_KINDS: tuple[str, ...] = (
    "rle",
    "rle_list",
    "uncompressed_rle",
    "polygons",
    "empty",
    "unknown",
)


class SegmentationError(ValueError):
    """A segmentation value that cannot be turned into a mask."""


@dataclass
class DecodedMask:
    """A segmentation as RLE, with what was done to it.

    Attributes:
        rle: The mask (size as the source states it for RLE, the image size for polygons).
        kind: The segmentation kind found in the source.
        flags: Sample flags to carry (``polygon_repaired``, ``polygon_invalid``, ...).
        problems: Human descriptions of what was repaired or could not be.
    """

    rle: Rle
    kind: str
    flags: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_rle_dict(v: Any) -> bool:
    return isinstance(v, dict) and "counts" in v and "size" in v


def segmentation_kind(seg: Any) -> str:
    """Classify a segmentation value (one of :data:`SEGMENTATION_KINDS`).

    Example:
        >>> segmentation_kind([{"size": [2, 2], "counts": "04"}]), segmentation_kind([])
        ('rle_list', 'empty')
    """
    if seg is None or (isinstance(seg, list | dict | str) and len(seg) == 0):
        return "empty"
    if _is_rle_dict(seg):
        return "uncompressed_rle" if isinstance(seg["counts"], list) else "rle"
    if isinstance(seg, list):
        if all(_is_rle_dict(s) for s in seg):
            return "rle_list"
        if all(isinstance(s, list | tuple) for s in seg):
            return "polygons"
        if all(_is_number(s) for s in seg):
            return "polygons"  # one flat polygon, not nested
    return "unknown"


def _rle_from_dict(seg: dict[str, Any], check: bool = True) -> Rle:
    size = seg.get("size")
    if not (isinstance(size, list | tuple) and len(size) == 2 and all(_is_number(v) for v in size)):
        raise SegmentationError(f"RLE size {size!r} is not [height, width]")
    counts = seg["counts"]
    if isinstance(counts, list):
        if not all(isinstance(c, int) and c >= 0 for c in counts):
            raise SegmentationError("uncompressed RLE counts are not non-negative integers")
        total = sum(counts)
        if total != int(size[0]) * int(size[1]):
            raise SegmentationError(
                f"uncompressed RLE runs cover {total} pixels, not {int(size[0])}×{int(size[1])}"
            )
        return masks.from_uncompressed({"size": [int(size[0]), int(size[1])], "counts": counts})
    if isinstance(counts, bytes):
        counts = counts.decode("ascii", errors="replace")
    rle: Rle = {"size": [int(size[0]), int(size[1])], "counts": str(counts)}
    if check and not masks.is_valid(rle):
        raise SegmentationError(
            f"RLE counts do not decode to {rle['size'][0]}×{rle['size'][1]} pixels"
        )
    return rle


def _flat_polygons(seg: Sequence[Any]) -> list[list[float]]:
    if seg and all(_is_number(s) for s in seg):
        seg = [seg]
    out: list[list[float]] = []
    for k, poly in enumerate(seg):
        if not isinstance(poly, list | tuple) or not all(_is_number(v) for v in poly):
            raise SegmentationError(f"polygon {k} is not a flat list of numbers")
        out.append([float(v) for v in poly])
    return out


def _rasterise(exteriors: list[list[float]], holes: list[list[float]], h: int, w: int) -> Rle:
    rle = masks.from_polygons(exteriors, h, w)
    if holes and masks.area(rle):
        solid = masks.decode(rle)
        solid[masks.decode(masks.from_polygons(holes, h, w)) != 0] = 0
        rle = masks.encode(solid)
    return rle


def to_rle(
    seg: Any, height: int, width: int, *, repair: bool = True, check_rle: bool = True
) -> DecodedMask:
    """Turn a segmentation value into one RLE mask.

    Args:
        seg: The annotation's ``segmentation`` value.
        height: The image's real height (used for polygons and empty masks).
        width: The image's real width.
        repair: Repair invalid polygons with shapely (else only check and flag them).
        check_rle: Check that compressed RLE counts cover the mask (skip only for RLEs
            already checked with :func:`rrsis_bench.masks.are_valid`).

    Raises:
        SegmentationError: The value cannot be decoded (the message says why).
    """
    kind = segmentation_kind(seg)
    if kind == "empty":
        return DecodedMask(masks.empty(height, width), kind)
    if kind in ("rle", "uncompressed_rle"):
        return DecodedMask(_rle_from_dict(seg, check_rle), kind)
    if kind == "rle_list":
        rles = [_rle_from_dict(s, check_rle) for s in seg]
        sizes = sorted({tuple(r["size"]) for r in rles})
        if len(sizes) > 1:
            raise SegmentationError(f"the RLEs of one segmentation have different sizes {sizes}")
        return DecodedMask(masks.union(rles), kind)
    if kind == "polygons":
        polys = _flat_polygons(seg)
        result = repair_polygons(polys, height, width, repair=repair)
        rle = _rasterise(result.exteriors, result.holes, height, width)
        return DecodedMask(rle, kind, sorted(result.flags), result.problems)
    raise SegmentationError(f"unrecognised segmentation of type {type(seg).__name__}")


def mask_size_matches(rle: Rle, height: int, width: int) -> bool:
    """True if the RLE has the image's size."""
    return int(rle["size"][0]) == int(height) and int(rle["size"][1]) == int(width)
