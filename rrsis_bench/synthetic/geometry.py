"""Polygons of synthetic objects, in pixel coordinates of the image (x right, y down).

Every object is one simple polygon; its mask is that polygon rasterised by pycocotools (see
:mod:`rrsis_bench.synthetic.raster`), so a release that stores polygons (NWPU-Refer) and one that
stores masks (RRSIS-D, RefSegRS, RISBench) describe the same pixels. Vertices are rounded to
0.1 px, the precision the annotation files are written with.

Example:
    >>> poly = polygon("rect", cx=50, cy=40, length=20, width=10, angle=0.0)
    >>> poly.tolist()
    [[40.0, 35.0], [60.0, 35.0], [60.0, 45.0], [40.0, 45.0]]
"""

from __future__ import annotations

import math

import numpy as np


def _rotate(local: np.ndarray, cx: float, cy: float, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    x = local[:, 0] * c - local[:, 1] * s + cx
    y = local[:, 0] * s + local[:, 1] * c + cy
    return np.stack([x, y], axis=1)


def _ellipse(length: float, width: float, n: int) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    return np.stack([length / 2 * np.cos(t), width / 2 * np.sin(t)], axis=1)


def _stadium(length: float, width: float, n: int = 10) -> np.ndarray:
    r = width / 2
    straight = max(0.0, length / 2 - r)
    right = np.linspace(-math.pi / 2, math.pi / 2, n)
    left = np.linspace(math.pi / 2, 3 * math.pi / 2, n)
    pts = [(straight + r * math.cos(t), r * math.sin(t)) for t in right]
    pts += [(-straight + r * math.cos(t), r * math.sin(t)) for t in left]
    return np.array(pts)


def _ship(length: float, width: float) -> np.ndarray:
    h, w = length / 2, width / 2
    return np.array([[-h, -w], [0.45 * h, -w], [h, 0.0], [0.45 * h, w], [-h, w]])


def _airplane(length: float, span: float) -> np.ndarray:
    h = length / 2
    f = 0.06 * length  # half fuselage width
    s = span / 2
    half = [
        (h, 0.0),
        (0.80 * h, f),
        (0.20 * h, f),
        (-0.10 * h, s),
        (-0.28 * h, s),
        (-0.18 * h, f),
        (-0.72 * h, f),
        (-0.92 * h, 0.34 * s),
        (-h, 0.34 * s),
        (-h, 0.0),
    ]
    mirrored = [(x, -y) for x, y in reversed(half[1:-1])]
    return np.array(half + mirrored)


def _plus(length: float, width: float) -> np.ndarray:
    h, w = length / 2, width / 2
    return np.array(
        [
            [h, -w],
            [h, w],
            [w, w],
            [w, h],
            [-w, h],
            [-w, w],
            [-h, w],
            [-h, -w],
            [-w, -w],
            [-w, -h],
            [w, -h],
            [w, -w],
        ]
    )


def _rotor(length: float, width: float) -> np.ndarray:
    pts = []
    for k in range(3):
        a = k * 2 * math.pi / 3
        pts.append((length / 2 * math.cos(a), length / 2 * math.sin(a)))
        b = a + math.pi / 3
        pts.append((width * math.cos(b), width * math.sin(b)))
    return np.array(pts)


def _sector(length: float, n: int = 9) -> np.ndarray:
    # apex at the origin (home plate), a quarter disc opening along +x
    t = np.linspace(-math.pi / 4, math.pi / 4, n)
    arc = np.stack([length * np.cos(t), length * np.sin(t)], axis=1)
    pts = np.vstack([[[0.0, 0.0]], arc])
    return pts - np.array([[length / 2, 0.0]])


def _blob(length: float, width: float, rng: np.random.Generator, n: int = 28) -> np.ndarray:
    t = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    r = np.ones(n)
    for k in (2, 3, 4, 5):
        r += rng.uniform(0.0, 0.10) * np.cos(k * t + rng.uniform(0, 2 * math.pi))
    return np.stack([length / 2 * r * np.cos(t), width / 2 * r * np.sin(t)], axis=1)


def polygon(
    shape: str,
    cx: float,
    cy: float,
    length: float,
    width: float,
    angle: float,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Vertices ``(n, 2)`` of a shape centred on ``(cx, cy)``, long axis at ``angle`` radians.

    Args:
        shape: ``rect``, ``band`` (a rect), ``ellipse``, ``stadium``, ``ship``, ``airplane``
            (``width`` is the wing span), ``plus``, ``rotor``, ``sector`` (a quarter disc of
            radius ``length``) or ``blob`` (needs ``rng``).
        cx: Centre x.
        cy: Centre y.
        length: Extent along the long axis.
        width: Extent across it.
        angle: Rotation of the long axis from +x, counter-clockwise in the image's y-down frame.
        rng: Random generator (``blob`` only).

    Returns:
        Vertices rounded to 0.1 px.
    """
    if shape in ("rect", "band"):
        h, w = length / 2, width / 2
        local = np.array([[-h, -w], [h, -w], [h, w], [-h, w]])
    elif shape == "ellipse":
        local = _ellipse(length, width, 24 if length > 12 else 12)
    elif shape == "stadium":
        local = _stadium(length, width)
    elif shape == "ship":
        local = _ship(length, width)
    elif shape == "airplane":
        local = _airplane(length, width)
    elif shape == "plus":
        local = _plus(length, width)
    elif shape == "rotor":
        local = _rotor(length, width)
    elif shape == "sector":
        local = _sector(length)
    elif shape == "blob":
        if rng is None:
            raise ValueError("shape 'blob' needs rng")
        local = _blob(length, width, rng)
    else:
        raise ValueError(f"Expected a known shape, but got {shape!r}")
    return np.round(_rotate(local, cx, cy, angle), 1)


def clip_to_image(vertices: np.ndarray, width: int, height: int) -> np.ndarray:
    """Clip a polygon to the image rectangle ``[0, width] × [0, height]`` (Sutherland–Hodgman).

    Returns an empty ``(0, 2)`` array when nothing is left.
    """
    pts: list[tuple[float, float]] = [(float(p[0]), float(p[1])) for p in vertices]
    edges = (
        (lambda p: p[0] >= 0, lambda a, b: _cut_x(a, b, 0.0)),
        (lambda p: p[0] <= width, lambda a, b: _cut_x(a, b, float(width))),
        (lambda p: p[1] >= 0, lambda a, b: _cut_y(a, b, 0.0)),
        (lambda p: p[1] <= height, lambda a, b: _cut_y(a, b, float(height))),
    )
    for inside, cut in edges:
        if not pts:
            break
        out: list[tuple[float, float]] = []
        prev = pts[-1]
        for cur in pts:
            if inside(cur):
                if not inside(prev):
                    out.append(cut(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cut(prev, cur))
            prev = cur
        pts = out
    if len(pts) < 3:
        return np.zeros((0, 2))
    arr = np.round(np.array(pts), 1)
    arr[:, 0] = np.clip(arr[:, 0], 0, width)
    arr[:, 1] = np.clip(arr[:, 1], 0, height)
    keep = np.ones(len(arr), dtype=bool)
    keep[1:] = np.any(arr[1:] != arr[:-1], axis=1)
    arr = arr[keep]
    if len(arr) > 1 and np.all(arr[0] == arr[-1]):
        arr = arr[:-1]
    return arr if len(arr) >= 3 else np.zeros((0, 2))


def _cut_x(a: tuple[float, float], b: tuple[float, float], x: float) -> tuple[float, float]:
    t = (x - a[0]) / (b[0] - a[0])
    return (x, a[1] + t * (b[1] - a[1]))


def _cut_y(a: tuple[float, float], b: tuple[float, float], y: float) -> tuple[float, float]:
    t = (y - a[1]) / (b[1] - a[1])
    return (a[0] + t * (b[0] - a[0]), y)


def edge_band(
    px: float, py: float, angle: float, width_px: float, img_w: int, img_h: int
) -> np.ndarray:
    """A straight band of ``width_px`` through ``(px, py)`` crossing the whole image."""
    length = 2.5 * math.hypot(img_w, img_h)
    band = polygon("rect", px, py, length, width_px, angle)
    return clip_to_image(band, img_w, img_h)


def flat(vertices: np.ndarray) -> list[float]:
    """COCO polygon form ``[x1, y1, x2, y2, ...]`` (plain floats, 0.1 px precision)."""
    out: list[float] = np.round(vertices, 1).reshape(-1).tolist()
    return out


def local_coords(
    xs: np.ndarray, ys: np.ndarray, cx: float, cy: float, angle: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres expressed along (``u``) and across (``v``) an object's long axis, in px."""
    c, s = math.cos(angle), math.sin(angle)
    dx, dy = xs + 0.5 - cx, ys + 0.5 - cy
    return dx * c + dy * s, -dx * s + dy * c
