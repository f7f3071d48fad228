"""Painting synthetic aerial scenes with vectorised numpy: ground, textures, objects, shadows.

Nothing here decides what a mask is: the painter colours the pixels of masks it is given
(see :mod:`rrsis_bench.synthetic.raster`) and adds surface detail *inside* them, and shadows
*outside* them on the ground only.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image

from rrsis_bench.synthetic.categories import COLOURS
from rrsis_bench.synthetic.geometry import local_coords

GROUNDS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "rural": ((104, 118, 70), (150, 138, 100)),
    "urban": ((150, 146, 136), (118, 112, 104)),
    "arid": ((186, 168, 130), (160, 140, 104)),
    "suburban": ((120, 130, 92), (160, 154, 140)),
}
"""Ground themes: two colours mixed by a smooth random field."""


@lru_cache(maxsize=4)
def _grain(n: int) -> np.ndarray:
    """A fixed field of fine-grained noise (same in every process), float32 in about [-1, 1]."""
    rng = np.random.default_rng(20240601)
    return rng.standard_normal((n, n)).astype(np.float32) / 2.0


def grain(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A ``height × width`` crop of the fixed grain field at a random offset."""
    side = 1024
    while side < 2 * max(height, width):
        side *= 2
    field = _grain(side)
    oy = int(rng.integers(0, side - height))
    ox = int(rng.integers(0, side - width))
    return field[oy : oy + height, ox : ox + width]


def smooth_field(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """A smooth random field in ``[0, 1]`` (bilinear upsampling of ``cells × cells`` values).

    Upsampled as 8-bit levels (Pillow's fastest path); 256 levels are plenty for a texture.
    """
    small = rng.integers(0, 256, (cells, cells), dtype=np.uint8)
    img = Image.fromarray(small, mode="L").resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32) * (1.0 / 255.0)


def ground(rng: np.random.Generator, height: int, width: int, theme: str) -> np.ndarray:
    """The bare ground of a scene, float32 ``(h, w, 3)`` in 0..255."""
    a, b = (np.array(c, dtype=np.float32) for c in GROUNDS[theme])
    mix = smooth_field(rng, height, width, 5)
    detail = smooth_field(rng, height, width, 24)
    detail *= 26.0
    detail += grain(rng, height, width) * 7.0 - 13.0
    img = np.empty((height, width, 3), dtype=np.float32)
    for ch in range(3):
        np.multiply(mix, b[ch] - a[ch], out=img[..., ch])
        img[..., ch] += detail + a[ch]
    return img


def _colour(name: str, rng: np.random.Generator) -> np.ndarray:
    base = np.array(COLOURS[name], dtype=np.float32)
    return base + rng.uniform(-8, 8, 3).astype(np.float32)


def _outline(m: np.ndarray, px: int) -> np.ndarray:
    """Pixels of ``m`` within ``px`` of its border (4-neighbour erosion)."""
    inner = m.copy()
    for _ in range(px):
        e = inner.copy()
        e[1:, :] &= inner[:-1, :]
        e[:-1, :] &= inner[1:, :]
        e[:, 1:] &= inner[:, :-1]
        e[:, :-1] &= inner[:, 1:]
        e[0, :] = e[-1, :] = False
        e[:, 0] = e[:, -1] = False
        inner = e
    return m & ~inner


def paint(
    img: np.ndarray,
    m: np.ndarray,
    win: tuple[int, int, int, int],
    colour: str,
    pattern: str | None,
    frame: tuple[float, float, float, float, float],
    rng: np.random.Generator,
) -> None:
    """Colour the pixels ``m`` of the window ``win`` of ``img`` and add the surface pattern.

    Args:
        img: The image, float32 ``(h, w, 3)``, modified in place.
        m: Boolean mask of the window.
        win: ``(x0, x1, y0, y1)``.
        colour: A name of :data:`~rrsis_bench.synthetic.categories.COLOURS`.
        pattern: Surface detail (``court``, ``tank``, ``ridge``, ...), or None.
        frame: ``(cx, cy, length, width, angle)`` of the object, for patterns.
        rng: Random generator.
    """
    x0, x1, y0, y1 = win
    ys, xs = np.nonzero(m)
    if len(ys) == 0:
        return
    base = _colour(colour, rng)
    tex = grain(rng, y1 - y0, x1 - x0)[ys, xs]
    fill = base[None, :] + (tex * 6.0)[:, None]
    if pattern is not None:
        edge = (
            _outline(m, 2 if pattern == "rim" else 1)[ys, xs]
            if pattern in ("court", "rim")
            else None
        )
        fill = _pattern(fill, xs + x0, ys + y0, edge, pattern, frame)
    img[ys + y0, xs + x0] = fill


def _pattern(
    fill: np.ndarray,
    xs: np.ndarray,
    ys: np.ndarray,
    edge: np.ndarray | None,
    pattern: str,
    frame: tuple[float, float, float, float, float],
) -> np.ndarray:
    cx, cy, length, width, angle = frame
    u, v = local_coords(xs.astype(np.float32), ys.astype(np.float32), cx, cy, angle)
    un, vn = u / max(length, 1.0), v / max(width, 1.0)
    white = np.array(COLOURS["white"], dtype=np.float32)
    green = np.array(COLOURS["green"], dtype=np.float32)
    if pattern == "windshield":
        sel = (un > 0.12) & (un < 0.26)
        fill[sel] *= 0.45
    elif pattern == "cab":
        sel = un > 0.28
        fill[sel] = fill[sel] * 0.75 + 40
    elif pattern in ("ridge", "rails"):
        sel = (np.abs(vn) < 0.04) if pattern == "ridge" else (np.mod(v, 6.0) < 1.2)
        fill[sel] *= 0.7
        fill[vn > 0] *= 1.08
    elif pattern == "stripes":
        fill[np.mod(u, 5.0) < 1.4] *= 0.55
    elif pattern == "parking":
        fill[(np.mod(u, 11.0) < 1.2) & (np.abs(vn) > 0.08)] = white
    elif pattern == "court":
        assert edge is not None
        fill[edge | (np.abs(u) < 0.8)] = white
    elif pattern == "rim":
        assert edge is not None
        fill[edge] = white
    elif pattern == "tank":
        r = np.hypot(un, vn) * 2
        fill[r > 0.82] *= 0.78
        fill[r < 0.14] *= 0.6
    elif pattern == "helipad":
        r = np.hypot(un, vn) * 2
        fill[((r > 0.66) & (r < 0.78)) | ((np.abs(un) < 0.05) & (np.abs(vn) < 0.28))] = white
    elif pattern == "ring":
        fill[np.hypot(un, vn) * 2 < 0.5] = green
    elif pattern == "track":
        inner = (un / 0.36) ** 2 + (vn / 0.28) ** 2 < 1
        fill[inner] = green
        fill[(np.abs((un / 0.44) ** 2 + (vn / 0.36) ** 2 - 1) < 0.04) & ~inner] = white
    elif pattern == "field":
        fill[(un / 0.34) ** 2 + (vn / 0.32) ** 2 < 1] = green
    elif pattern == "diamond":
        # the sector's apex is at u = -length/2; the infield is a square near it
        du = u + length / 2
        c = math.cos(math.pi / 4)
        sel = (np.abs(du * c + v * c) + np.abs(-du * c + v * c) < 0.42 * length) & (
            du > 0.05 * length
        )
        fill[sel] = np.array(COLOURS["brown"], dtype=np.float32) + 20
    elif pattern == "dashes":
        fill[(np.abs(v) < max(0.8, 0.04 * width)) & (np.mod(u, 18.0) < 9.0)] = white
    elif pattern == "water":
        fill *= 0.85
        fill[:, 2] += 12
    elif pattern == "canopy":
        fill *= (1.15 - 0.4 * np.clip(np.hypot(un, vn) * 2, 0, 1))[:, None]
    elif pattern == "bunkers":
        fill[(np.sin(u * 0.21) + np.sin(v * 0.17)) > 1.55] = np.array(
            (214, 200, 150), dtype=np.float32
        )
    return fill


def shadow(
    img: np.ndarray,
    m: np.ndarray,
    win: tuple[int, int, int, int],
    offset: tuple[int, int],
    free: np.ndarray,
) -> None:
    """Darken the ground under ``m`` moved by ``offset`` where ``free`` (no object yet) holds."""
    x0, _x1, y0, _y1 = win
    dx, dy = offset
    h, w = free.shape
    sx0, sy0 = x0 + dx, y0 + dy
    ax0, ay0 = max(0, sx0), max(0, sy0)
    ax1, ay1 = min(w, sx0 + m.shape[1]), min(h, sy0 + m.shape[0])
    if ax0 >= ax1 or ay0 >= ay1:
        return
    sm = m[ay0 - sy0 : ay1 - sy0, ax0 - sx0 : ax1 - sx0] & free[ay0:ay1, ax0:ax1]
    region = img[ay0:ay1, ax0:ax1]
    region[sm] *= 0.58


def finish(img: np.ndarray) -> np.ndarray:
    """Clip to 0..255 and convert to ``uint8``."""
    return np.clip(img, 0, 255).astype(np.uint8)
