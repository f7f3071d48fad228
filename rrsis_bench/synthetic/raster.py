"""Masks of synthetic objects: polygons rasterised once, then read back in small windows.

An object's mask is its polygon rasterised over the whole image by pycocotools (the same call
:func:`rrsis_bench.masks.from_polygons` makes, so a builder reading the polygon back gets the
same pixels: pycocotools' rasteriser is not exactly translation invariant, hence never a
cropped raster). Painting needs the pixels only around the object: :func:`window` decodes the
compressed RLE of just those columns with numpy, without decoding the whole image.

Example:
    >>> import numpy as np
    >>> from rrsis_bench import masks
    >>> rle = rasterize([2.0, 1.0, 6.0, 1.0, 6.0, 4.0, 2.0, 4.0], 8, 9)
    >>> bool((window(rle, 0, 9, 0, 8) == masks.decode(rle).astype(bool)).all())
    True
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rrsis_bench import masks
from rrsis_bench.schema import Rle


def rasterize(poly: Sequence[float], height: int, width: int) -> Rle:
    """Compressed RLE of one polygon (flat ``[x1, y1, ...]``) over a ``height × width`` image."""
    return masks.from_polygons([list(poly)], height, width)


def runs(counts: str) -> np.ndarray:
    """Run lengths of COCO compressed counts (background first), decoded with numpy.

    Example:
        >>> runs(masks.encode(np.array([[0, 1], [1, 1]], dtype=np.uint8))["counts"]).tolist()
        [1, 3]
    """
    c = np.frombuffer(counts.encode("ascii"), dtype=np.uint8).astype(np.int64) - 48
    if c.size == 0:
        return np.zeros(0, dtype=np.int64)
    more = (c & 0x20) != 0
    last = np.flatnonzero(~more)
    first = np.concatenate([[0], last[:-1] + 1])
    n_chars = last - first + 1
    group = np.repeat(np.arange(len(last)), n_chars)
    k = np.arange(len(c)) - first[group]
    # each value is at most 7 chunks of 5 bits: exact in float64 (bincount's weights)
    values = np.bincount(group, weights=(c & 0x1F) << (5 * k)).astype(np.int64)
    negative = (c[last] & 0x10) != 0
    values[negative] -= np.left_shift(1, 5 * n_chars[negative])
    out = values.copy()
    if len(out) > 3:
        out[1::2] = np.cumsum(values[1::2])
        out[2::2] = np.cumsum(values[2::2])
    return out


def window(rle: Rle, x0: int, x1: int, y0: int, y1: int) -> np.ndarray:
    """Boolean mask of the pixels ``[y0:y1, x0:x1]`` of ``rle`` (a view; column-major decoding)."""
    h = int(rle["size"][0])
    r = runs(rle["counts"])
    bounds = np.cumsum(r)
    starts = bounds[0::2][: len(r[1::2])]
    ends = bounds[1::2]
    lo, hi = x0 * h, x1 * h
    keep = (ends > lo) & (starts < hi)
    s = np.maximum(starts[keep], lo) - lo
    e = np.minimum(ends[keep], hi) - lo
    n = hi - lo + 1
    diff = np.bincount(s, minlength=n)[:n] - np.bincount(e, minlength=n)[:n]
    cols = (np.cumsum(diff[:-1]) > 0).reshape(x1 - x0, h)
    return cols.T[y0:y1]


def extent(
    vertices: np.ndarray, width: int, height: int, pad: int = 2
) -> tuple[int, int, int, int]:
    """Pixel window ``(x0, x1, y0, y1)`` covering a polygon plus ``pad``, clipped to the image."""
    x0 = max(0, int(np.floor(vertices[:, 0].min())) - pad)
    x1 = min(width, int(np.ceil(vertices[:, 0].max())) + pad + 1)
    y0 = max(0, int(np.floor(vertices[:, 1].min())) - pad)
    y1 = min(height, int(np.ceil(vertices[:, 1].max())) + pad + 1)
    return x0, max(x0, x1), y0, max(y0, y1)
