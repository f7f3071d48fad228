"""Resizing masks onto a protocol's evaluation grid.

Two nearest-neighbour rules are in use by the peers and they pick different pixels:

- PIL ``Image.resize(..., NEAREST)`` (LAVT family, CARIS, GRES): :func:`pil_nearest`;
- OpenCV ``cv2.resize(..., INTER_NEAREST)`` (SegEarth-R1): source index
  ``min(floor(x * (1 / (dst / src))), src - 1)`` in double precision, re-implemented in numpy
  by :func:`opencv_nearest` (OpenCV itself is not a dependency), followed by centred zero
  padding to a square (:func:`letterbox`).

Example:
    >>> import numpy as np
    >>> m = np.zeros((4, 8), dtype=np.uint8); m[:, 6:] = 1
    >>> letterbox(m, 4).astype(int).tolist()
    [[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
"""

from __future__ import annotations

import numpy as np

from rrsis_bench.masks import resize_nearest
from rrsis_bench.metrics.protocols import Protocol


def pil_nearest(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize with PIL's NEAREST rule (what ``torchvision`` does to a PIL target)."""
    return resize_nearest(mask, height, width)


def _opencv_index(src: int, dst: int) -> np.ndarray:
    inv_scale = float(dst) / float(src)
    scale = 1.0 / inv_scale
    idx = np.floor(np.arange(dst, dtype=np.float64) * scale).astype(np.int64)
    return np.minimum(idx, src - 1)


def opencv_nearest(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize with OpenCV's INTER_NEAREST rule (``cv2.resize(m, (width, height))``)."""
    if mask.shape == (height, width):
        return mask
    rows = _opencv_index(mask.shape[0], height)
    cols = _opencv_index(mask.shape[1], width)
    return mask[rows[:, None], cols[None, :]]


def letterbox_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """Size of the resized mask before padding: long side ``size``, short side truncated.

    The short side is ``int(short * (size / long))`` in double precision, as the peer computes it.
    """
    if width > height:
        return int(height * (size / width)), size
    return size, int(width * (size / height))


def letterbox(mask: np.ndarray, size: int) -> np.ndarray:
    """Long side to ``size`` with OpenCV's nearest rule, then centred zero padding to a square.

    The padding puts ``pad // 2`` rows (columns) on top (left) and the rest at the bottom (right).
    """
    h, w = letterbox_shape(mask.shape[0], mask.shape[1], size)
    resized = opencv_nearest(mask, h, w)
    out = np.zeros((size, size), dtype=resized.dtype)
    top = (size - h) // 2
    left = (size - w) // 2
    out[top : top + h, left : left + w] = resized
    return out


def to_grid(mask: np.ndarray, protocol: Protocol) -> np.ndarray:
    """Bring a ground-truth-sized mask onto the protocol's evaluation grid."""
    if protocol.resize == "none" or protocol.resolution is None:
        return mask
    s = protocol.resolution
    if protocol.resize == "pil-nearest":
        return pil_nearest(mask, s, s)
    return letterbox(mask, s)


def grid_shape(height: int, width: int, protocol: Protocol) -> tuple[int, int]:
    """Shape of a ``height``×``width`` mask on the protocol's evaluation grid."""
    if protocol.resize == "none" or protocol.resolution is None:
        return height, width
    return protocol.resolution, protocol.resolution
