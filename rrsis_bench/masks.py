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
    """Decode RLE into an ``(h, w)`` uint8 array of 0/1."""
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


def is_valid(rle: Any) -> bool:
    """True if ``rle`` is a well-formed compressed RLE whose runs cover ``h × w`` pixels."""
    try:
        h, w = int(rle["size"][0]), int(rle["size"][1])
        if h < 0 or w < 0:
            return False
        coco = _to_coco(rle)
        # frString -> runs; the C decoder silently truncates bad strings, so check the total.
        runs = _runs_array(coco["counts"])
        return runs is not None and int(runs.sum()) == h * w
    except Exception:
        return False


def are_valid(rles: Sequence[Any]) -> np.ndarray:
    """:func:`is_valid` for many RLEs at once (one numpy pass over all their counts strings).

    Returns a boolean array, one entry per RLE.

    Example:
        >>> good = encode(np.ones((2, 3), dtype=np.uint8))
        >>> are_valid([good, {"size": [2, 2], "counts": good["counts"]}, "junk"]).tolist()
        [True, False, False]
    """
    n = len(rles)
    ok = np.zeros(n, dtype=bool)
    pixels = np.zeros(n, dtype=np.int64)
    chunks: list[bytes] = []
    owners: list[int] = []
    for i, rle in enumerate(rles):
        try:
            h, w = int(rle["size"][0]), int(rle["size"][1])
            counts = rle["counts"]
            counts = counts.encode("ascii") if isinstance(counts, str) else bytes(counts)
        except Exception:
            continue
        if h < 0 or w < 0:
            continue
        ok[i] = True
        pixels[i] = h * w
        if counts:
            chunks.append(counts)
            owners.append(i)
        elif h * w:
            ok[i] = False
    if not chunks:
        return ok
    lengths = np.fromiter((len(c) for c in chunks), dtype=np.int64, count=len(chunks))
    c = np.frombuffer(b"".join(chunks), dtype=np.uint8).astype(np.int64) - 48
    string_of = np.repeat(np.arange(len(chunks)), lengths)
    string_end = np.cumsum(lengths) - 1
    m = len(chunks)
    bad = np.bincount(string_of, weights=(c < 0) | (c > 63), minlength=m) > 0
    more = (c & 0x20) != 0
    bad |= more[string_end]  # truncated: the last value of a string is not finished
    ends_value = ~more
    ends_value[string_end] = True  # values never run across strings
    ends = np.flatnonzero(ends_value)
    starts = np.concatenate(([0], ends[:-1] + 1))
    group = np.concatenate(([0], np.cumsum(ends_value[:-1])))
    k = np.arange(c.size) - starts[group]
    bad |= np.bincount(string_of, weights=k > 11, minlength=m) > 0  # over 60 bits: no count
    k = np.minimum(k, 11)
    x = np.add.reduceat((c & 0x1F) << (5 * k), starts)
    last = c[ends]
    x = np.where((last & 0x10) != 0, x - (np.int64(1) << (5 * (k[ends] + 1))), x)
    run_string = string_of[ends]
    first_run = np.searchsorted(run_string, np.arange(m))
    local = np.arange(x.size) - first_run[run_string]
    before = first_run[run_string] - 1
    runs = x.copy()
    for parity in (0, 1):
        chain = (local % 2 == parity) & (local >= 1)
        cs = np.cumsum(np.where(chain, x, 0))
        base = np.where(before >= 0, cs[np.maximum(before, 0)], 0)
        runs = np.where(chain, cs - base, runs)
    bad |= np.bincount(run_string, weights=runs < 0, minlength=m) > 0
    # exact integer totals per string (float weights would round above 2**53)
    cum = np.cumsum(runs)
    last_run = np.searchsorted(run_string, np.arange(m), side="right") - 1
    totals = cum[last_run] - np.where(first_run > 0, cum[np.maximum(first_run - 1, 0)], 0)
    owner = np.asarray(owners)
    ok[owner] = ~bad & (totals == pixels[owner])
    return ok


def _runs_array(counts: bytes) -> np.ndarray | None:
    """Run lengths of a COCO counts string, decoded with numpy; ``None`` if malformed.

    Vectorised form of :func:`_runs` (same rules: 5 bits per character, bit 0x20 continues a
    value, bit 0x10 of a value's last character is its sign, and from the fourth run on each
    value is a difference to the run two places before).
    """
    c = np.frombuffer(counts, dtype=np.uint8).astype(np.int64) - 48
    if c.size == 0:
        return np.zeros(0, dtype=np.int64)
    if c.min() < 0 or c.max() > 63:
        return None
    more = (c & 0x20) != 0
    if more[-1]:
        return None  # truncated: the last value is not finished
    ends = np.flatnonzero(~more)
    starts = np.concatenate(([0], ends[:-1] + 1))
    group = np.concatenate(([0], np.cumsum(~more[:-1])))
    k = np.arange(c.size) - starts[group]
    if k.max() > 11:
        return None  # a value longer than 60 bits is not a pixel count
    x = np.add.reduceat((c & 0x1F) << (5 * k), starts)
    last = c[ends]
    x = np.where((last & 0x10) != 0, x - (np.int64(1) << (5 * (k[ends] + 1))), x)
    runs = x.copy()
    if runs.size > 3:
        runs[3::2] = runs[1] + np.cumsum(x[3::2])
    if runs.size > 4:
        runs[4::2] = runs[2] + np.cumsum(x[4::2])
    if (runs < 0).any():
        return None
    return runs


def _runs(counts: bytes) -> list[int]:
    """Decode the LEB128-like COCO counts string into run lengths (pure Python)."""
    runs: list[int] = []
    p = 0
    n = len(counts)
    while p < n:
        x = 0
        k = 0
        more = True
        while more:
            if p >= n:
                raise ValueError("truncated RLE counts")
            c = counts[p] - 48
            if c < 0 or c > 63:
                raise ValueError("invalid character in RLE counts")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(runs) > 2:
            x += runs[-2]
        runs.append(x)
    if any(r < 0 for r in runs):
        raise ValueError("negative run length in RLE counts")
    return runs


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
