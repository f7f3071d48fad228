"""RLE, polygon and bitmap conversions (pycocotools, shapely).

Every mask in rrsis-bench is COCO compressed RLE with *string* counts
(``{"size": [h, w], "counts": str}``). Areas, unions and extents are computed on the RLE
without decoding where pycocotools allows it.

Example:
    >>> import numpy as np
    >>> m = np.zeros((4, 5), dtype=np.uint8); m[1:3, 2:4] = 1
    >>> rle = encode(m)
    >>> rle["size"], area(rle), bbox(rle)
    ([4, 5], 4, [2.0, 1.0, 2.0, 2.0])
    >>> bool((decode(rle) == m).all())
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from rrsis_bench.schema import Rle


def _to_coco(rle: Rle | dict[str, Any]) -> dict[str, Any]:
    counts = rle["counts"]
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": counts}


def _from_coco(rle: dict[str, Any]) -> Rle:
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": counts}


def encode(mask: np.ndarray) -> Rle:
    """Encode a 2-D mask (any dtype; nonzero is foreground) as compressed RLE."""
    if mask.ndim != 2:
        raise ValueError(f"Expected a 2-D mask, but got shape {mask.shape}")
    binary = np.asfortranarray(mask != 0, dtype=np.uint8)
    return _from_coco(coco_mask.encode(binary))


def decode(rle: Rle | dict[str, Any]) -> np.ndarray:
    """Decode RLE into an ``(h, w)`` uint8 array of 0/1.

    Raises:
        ValueError: If the RLE is corrupt (checked first: pycocotools' decoder is not safe on
            corrupt input).
    """
    if not is_valid(rle):
        raise ValueError(
            f"Expected a compressed RLE whose runs cover its size {rle.get('size')}, "
            "but got a corrupt one"
        )
    return np.ascontiguousarray(coco_mask.decode(_to_coco(rle)))


def empty(height: int, width: int) -> Rle:
    """Return the RLE of an all-background mask."""
    return _from_coco(coco_mask.encode(np.zeros((height, width), dtype=np.uint8, order="F")))


def area(rle: Rle | dict[str, Any]) -> int:
    """Foreground pixel count, computed on the RLE."""
    return int(coco_mask.area(_to_coco(rle)))


def bbox(rle: Rle | dict[str, Any]) -> list[float]:
    """Extent of the foreground as ``[x, y, w, h]`` (zeros for an empty mask)."""
    return [float(v) for v in coco_mask.toBbox(_to_coco(rle))]


def union(
    rles: Sequence[Rle | dict[str, Any]], height: int | None = None, width: int | None = None
) -> Rle:
    """Union of masks of one size; an empty sequence needs ``height`` and ``width``.

    Raises:
        ValueError: If the masks have different sizes.
    """
    if not rles:
        if height is None or width is None:
            raise ValueError("union() of no masks needs height and width")
        return empty(height, width)
    sizes = {(int(r["size"][0]), int(r["size"][1])) for r in rles}
    if len(sizes) != 1:
        raise ValueError(f"Expected masks of one size, but got sizes {sorted(sizes)}")
    if len(rles) == 1:
        return _from_coco(_to_coco(rles[0]))
    return _from_coco(coco_mask.merge([_to_coco(r) for r in rles], intersect=False))


def intersection_area(a: Rle | dict[str, Any], b: Rle | dict[str, Any]) -> int:
    """Pixel count of ``a ∩ b`` computed on the RLE (same size required)."""
    merged = coco_mask.merge([_to_coco(a), _to_coco(b)], intersect=True)
    return int(coco_mask.area(merged))


def rle_runs(counts: str | bytes) -> np.ndarray | None:
    """Run lengths of one compressed RLE ``counts`` string (``None`` if it is corrupt).

    COCO's string form stores each run as 5-bit groups (``chr(48 + group)``; bit 0x20: more
    groups follow; bit 0x10 of the last group: negative) and every run after the third as a
    difference to the run two places before.

    Example:
        >>> rle_runs(encode(np.eye(2, dtype=np.uint8))["counts"]).tolist()
        [0, 1, 2, 1]
    """
    blob = _ascii(counts)
    if blob is None:
        return None
    if not blob:
        return np.zeros(0, dtype=np.int64)
    runs, bad, _ = _decode_runs(blob, np.array([len(blob)], dtype=np.int64))
    return None if bad[0] else runs


def rle_totals(counts: Sequence[str | bytes]) -> np.ndarray:
    """Pixels covered by each compressed RLE ``counts`` string, decoded in one numpy pass.

    Returns an int64 array, ``-1`` where a string is corrupt (a character outside the alphabet,
    an unfinished value, a value over 60 bits, a negative run). A valid RLE's total is ``h * w``.
    """
    out = np.full(len(counts), -1, dtype=np.int64)
    blobs: list[bytes] = []
    owners: list[int] = []
    for k, s in enumerate(counts):
        blob = _ascii(s)
        if blob is None:
            continue
        if blob:
            blobs.append(blob)
            owners.append(k)
        else:
            out[k] = 0
    if not blobs:
        return out
    lengths = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=len(blobs))
    runs, bad, run_owner = _decode_runs(b"".join(blobs), lengths)
    cum = np.cumsum(runs)
    first = np.searchsorted(run_owner, np.arange(len(blobs)))
    last = np.searchsorted(run_owner, np.arange(len(blobs)), side="right") - 1
    totals = cum[last] - np.where(first > 0, cum[np.maximum(first - 1, 0)], 0)
    out[np.asarray(owners)] = np.where(bad, -1, totals)
    return out


def _ascii(counts: Any) -> bytes | None:
    if isinstance(counts, bytes):
        return counts
    if isinstance(counts, str):
        try:
            return counts.encode("ascii")
        except UnicodeEncodeError:
            return None
    return None


def _decode_runs(blob: bytes, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode the counts strings concatenated in ``blob``: (runs, corrupt per string, owner per run)."""
    m = lengths.size
    c = np.frombuffer(blob, dtype=np.uint8).astype(np.int64) - 48
    owner = np.repeat(np.arange(m), lengths)
    string_end = np.cumsum(lengths) - 1
    bad = np.zeros(m, dtype=bool)
    outside = (c < 0) | (c > 63)
    if outside.any():
        bad[np.unique(owner[outside])] = True
    more = (c & 0x20) != 0
    bad |= more[string_end]  # truncated: the last value of a string is not finished
    ends_value = ~more
    ends_value[string_end] = True  # values never run across strings
    ends = np.flatnonzero(ends_value)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    group = np.cumsum(ends_value) - ends_value
    k = np.arange(c.size) - starts[group]
    if k.max() > 11:  # a value longer than 60 bits is not a pixel count
        bad[np.unique(owner[k > 11])] = True
        k = np.minimum(k, 11)
    x = np.add.reduceat((c & 0x1F) << (5 * k), starts)
    x = np.where((c[ends] & 0x10) != 0, x - (np.int64(1) << (5 * (k[ends] + 1))), x)
    run_owner = owner[ends]
    first = np.searchsorted(run_owner, np.arange(m))
    local = np.arange(x.size) - first[run_owner]
    before = first[run_owner] - 1
    runs = x.copy()
    for parity in (0, 1):  # from the fourth run on, a value is a difference to run k-2
        chain = (local % 2 == parity) & (local >= 1)
        cs = np.cumsum(np.where(chain, x, 0))
        base = np.where(before >= 0, cs[np.maximum(before, 0)], 0)
        runs = np.where(chain, cs - base, runs)
    negative = runs < 0
    if negative.any():
        bad[np.unique(run_owner[negative])] = True
    return runs, bad, run_owner


def _pixels(rle: Any) -> tuple[int, bytes] | None:
    try:
        h, w = int(rle["size"][0]), int(rle["size"][1])
        blob = _ascii(rle["counts"])
    except Exception:
        return None
    if h < 0 or w < 0 or blob is None:
        return None
    return h * w, blob


def is_valid(rle: Any) -> bool:
    """True if ``rle`` is a well-formed compressed RLE whose runs cover ``h × w`` pixels.

    pycocotools' C decoder trusts its input, so a corrupt string can make it read or write
    past its buffers: check before decoding anything that comes from a file.
    """
    return bool(are_valid([rle])[0])


def are_valid(rles: Sequence[Any]) -> np.ndarray:
    """:func:`is_valid` for many RLEs at once (one numpy pass over all their counts strings).

    Returns a boolean array, one entry per RLE.

    Example:
        >>> good = encode(np.ones((2, 3), dtype=np.uint8))
        >>> are_valid([good, {"size": [2, 2], "counts": good["counts"]}, "junk"]).tolist()
        [True, False, False]
    """
    parsed = [_pixels(r) for r in rles]
    ok = np.zeros(len(rles), dtype=bool)
    idx = [i for i, p in enumerate(parsed) if p is not None]
    if idx:
        totals = rle_totals([parsed[i][1] for i in idx])  # type: ignore[index]
        expected = np.array([parsed[i][0] for i in idx], dtype=np.int64)  # type: ignore[index]
        ok[np.asarray(idx)] = totals == expected
    return ok


def from_uncompressed(rle: dict[str, Any]) -> Rle:
    """Convert uncompressed RLE (``counts`` a list of ints) to compressed RLE."""
    h, w = int(rle["size"][0]), int(rle["size"][1])
    return _from_coco(coco_mask.frPyObjects(rle, h, w))


def from_polygons(polygons: Iterable[Sequence[float]], height: int, width: int) -> Rle:
    """Rasterise COCO polygons (flat ``[x1, y1, x2, y2, ...]`` lists) and unite them.

    Polygons with fewer than 3 points are ignored; no polygon gives an empty mask.
    """
    polys = [[float(v) for v in p] for p in polygons if len(p) >= 6]
    if not polys:
        return empty(height, width)
    rles = coco_mask.frPyObjects(polys, height, width)
    return _from_coco(coco_mask.merge(rles, intersect=False))


def box_iou_xywh(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``[x, y, w, h]`` boxes (0 when both are empty)."""
    ax2, ay2 = a[0] + a[2], a[1] + a[3]
    bx2, by2 = b[0] + b[2], b[1] + b[3]
    iw = max(0.0, min(ax2, bx2) - max(a[0], b[0]))
    ih = max(0.0, min(ay2, by2) - max(a[1], b[1]))
    inter = iw * ih
    uni = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / uni) if uni > 0 else 0.0


def xyxy_to_xywh(box: Sequence[float]) -> list[float]:
    """``[x1, y1, x2, y2]`` to ``[x, y, w, h]``."""
    return [
        float(box[0]),
        float(box[1]),
        float(box[2]) - float(box[0]),
        float(box[3]) - float(box[1]),
    ]


def resize_nearest(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize a 2-D mask with PIL's nearest-neighbour rule (as ``Image.resize(NEAREST)``)."""
    from PIL import Image

    if mask.shape == (height, width):
        return mask
    img = Image.fromarray((mask != 0).astype(np.uint8) * 255)
    return (np.asarray(img.resize((width, height), Image.Resampling.NEAREST)) != 0).astype(np.uint8)
