"""Placing objects in a scene: sizes, orientations, colours, and where things may go.

Things (vehicles, buildings, courts, ...) never overlap one another, nor land cover, water or
roads, except where they belong there: ships on water (required), road markings on roads
(required), vehicles on roads (sometimes). Every candidate is rasterised exactly
(:mod:`rrsis_bench.synthetic.raster`) before it is accepted, so an accepted object's pixels are
known; rejecting a candidate only changes where objects end up, never a mask.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rrsis_bench import masks
from rrsis_bench.schema import Rle
from rrsis_bench.synthetic.categories import ARCHETYPES, Archetype, Category
from rrsis_bench.synthetic.geometry import clip_to_image, edge_band, flat, polygon
from rrsis_bench.synthetic.raster import extent, rasterize, window

SIZE_SCALE = {"small": 0.8, "large": 1.25}
"""Scale of the two size classes of a category within one scene (areas differ about 2.4×)."""

MIN_AREA = 6
WATER = ("lake", "river", "ocean")
ON_ROAD = ("car", "van", "truck", "bus", "trailer")


@dataclass
class Placed:
    """An object placed on the canvas (with its mask window), before painting."""

    archetype: str
    category: Category | None
    look: Archetype
    colour: str
    size: str | None
    angle: float
    vertices: np.ndarray
    mask: Rle
    win: tuple[int, int, int, int]
    m: np.ndarray
    frame: tuple[float, float, float, float, float]
    referable: bool


class Canvas:
    """Occupancy bookkeeping while placing objects."""

    def __init__(self, width: int, height: int):
        self.w, self.h = width, height
        self.things = np.zeros((height, width), dtype=bool)
        self.by_archetype: dict[str, np.ndarray] = {}
        self.referable_bg = np.zeros((height, width), dtype=bool)
        self.background = np.zeros((height, width), dtype=bool)
        self.edges: dict[str, list[tuple[float, float, float, float, float]]] = {}

    def add(self, p: Placed) -> None:
        """Record a placed object's pixels (things dilated by one pixel, to keep a gap)."""
        x0, x1, y0, y1 = p.win
        if p.look.background:
            occ = self.by_archetype.setdefault(p.archetype, np.zeros((self.h, self.w), dtype=bool))
            occ[y0:y1, x0:x1] |= p.m
            self.background[y0:y1, x0:x1] |= p.m
            if p.look.shape == "edge":
                self.edges.setdefault(p.archetype, []).append(p.frame)
            if p.referable:
                self.referable_bg[y0:y1, x0:x1] |= p.m
        else:
            self.things[y0:y1, x0:x1] |= _dilate(p.m)

    def support(self, archetypes: Sequence[str]) -> np.ndarray | None:
        """Union of the placed areas of these archetypes (None when there is none)."""
        maps = [self.by_archetype[a] for a in archetypes if a in self.by_archetype]
        if not maps:
            return None
        out = maps[0].copy()
        for m in maps[1:]:
            out |= m
        return out


def _dilate(m: np.ndarray) -> np.ndarray:
    d = m.copy()
    d[1:, :] |= m[:-1, :]
    d[:-1, :] |= m[1:, :]
    d[:, 1:] |= m[:, :-1]
    d[:, :-1] |= m[:, 1:]
    return d


def make(
    archetype: str,
    category: Category | None,
    vertices: np.ndarray,
    width: int,
    height: int,
    colour: str,
    size: str | None,
    angle: float,
    frame: tuple[float, float, float, float, float],
    referable: bool,
) -> Placed | None:
    """Rasterise a candidate polygon; None when it is degenerate or too small."""
    if len(vertices) < 3:
        return None
    rle = rasterize(flat(vertices), height, width)
    if masks.area(rle) < MIN_AREA:
        return None
    win = extent(vertices, width, height)
    m = window(rle, *win)
    look = ARCHETYPES[archetype]
    return Placed(
        archetype, category, look, colour, size, angle, vertices, rle, win, m, frame, referable
    )


def draw_angle(rng: np.random.Generator, look: Archetype) -> tuple[float, int]:
    """An orientation: near 0°, 45°, 90° or 135° (any angle for round objects)."""
    if not look.oriented:
        return float(rng.uniform(0, math.pi)), -1
    base = 45 * int(rng.integers(0, 4))
    return math.radians(base + rng.uniform(-3, 3)), base


def draw_colour(rng: np.random.Generator, look: Archetype) -> str:
    """A palette colour, the first one twice as likely as each other."""
    n = len(look.palette)
    k = int(rng.integers(0, n + 1))  # n + 1 equally likely slots; the first colour has two
    return look.palette[max(0, k - 1)]


def place_background(
    archetype: str,
    category: Category | None,
    rng: np.random.Generator,
    width: int,
    height: int,
    side: float,
    canvas: Canvas,
    placed: list[Placed],
) -> list[Placed]:
    """Place land cover, water or roads (edges cross the image; blobs stay clear of each other)."""
    look = ARCHETYPES[archetype]
    out: list[Placed] = []
    referable = category is not None
    n = int(rng.integers(look.count[0], look.count[1] + 1))
    roads = [p for p in placed if p.archetype == "road"]
    for i in range(n):
        for _ in range(12):
            colour = draw_colour(rng, look)
            if look.shape == "edge":
                wpx = rng.uniform(*look.length) * side
                if archetype in ("sidewalk", "bikeway") and roads:
                    road = roads[int(rng.integers(0, len(roads)))]
                    rcx, rcy, _, rw, ra = road.frame
                    off = (rw / 2 + 2 + wpx / 2) * (1 if rng.random() < 0.5 else -1)
                    px, py = rcx - off * math.sin(ra), rcy + off * math.cos(ra)
                    angle = ra
                else:
                    angle, _ = draw_angle(rng, look)
                    if i > 0 and out:
                        angle = out[0].angle + math.pi / 2
                    px = rng.uniform(0.2, 0.8) * width
                    py = rng.uniform(0.2, 0.8) * height
                verts = edge_band(px, py, angle, wpx, width, height)
                frame = (px, py, 2.5 * math.hypot(width, height), wpx, angle)
            else:
                length = rng.uniform(*look.length) * side
                wid = length * rng.uniform(*look.aspect)
                angle = float(rng.uniform(0, math.pi))
                if archetype == "ocean":
                    edge = int(rng.integers(0, 4))
                    px = [width / 2, width * 1.05, width / 2, -width * 0.05][edge]
                    py = [-height * 0.05, height / 2, height * 1.05, height / 2][edge]
                else:
                    px = rng.uniform(0.25, 0.75) * width
                    py = rng.uniform(0.25, 0.75) * height
                verts = clip_to_image(
                    polygon("blob", px, py, length, wid, angle, rng), width, height
                )
                frame = (px, py, length, wid, angle)
            p = make(
                archetype, category, verts, width, height, colour, None, angle, frame, referable
            )
            if p is None:
                continue
            x0, x1, y0, y1 = p.win
            if referable:
                clash = canvas.referable_bg[y0:y1, x0:x1] & p.m
                same = canvas.by_archetype.get(archetype)
                if same is not None and look.shape == "edge":
                    clash &= ~same[y0:y1, x0:x1]
                if clash.any():
                    continue
            canvas.add(p)
            out.append(p)
            break
    return out


def _on_road(
    rng: np.random.Generator, road: tuple[float, float, float, float, float], side: float
) -> tuple[float, float, float]:
    """A point on a road (one of its two lanes) and the road's direction."""
    rcx, rcy, _, rw, ra = road
    t = rng.uniform(-0.7, 0.7) * side
    lane = rw / 4 * (1 if rng.random() < 0.5 else -1)
    px = rcx + t * math.cos(ra) - lane * math.sin(ra)
    py = rcy + t * math.sin(ra) + lane * math.cos(ra)
    return px, py, ra + (math.pi if rng.random() < 0.5 else 0.0)


def place_things(
    category: Category,
    rng: np.random.Generator,
    width: int,
    height: int,
    side: float,
    canvas: Canvas,
) -> list[Placed]:
    """Place the instances of one countable category (a row when it clusters)."""
    look = category.look
    out: list[Placed] = []
    base = rng.uniform(*look.length) * side
    aspect = rng.uniform(*look.aspect)
    if base * (SIZE_SCALE["large"] if look.sized else 1.0) > 0.9 * side:
        return out
    roads = canvas.edges.get("road", [])
    support: np.ndarray | None = None
    if category.archetype == "ship":
        support = canvas.support(WATER)
        if support is None:
            return out
    elif category.archetype == "road_marking":
        if not roads:
            return out
        support = canvas.support(("road",))
        base = min(base, 0.4 * min(r[3] for r in roads))  # a marking fits across a lane
    elif category.archetype in ON_ROAD and roads:
        support = canvas.support(("road",))
    spots = (
        np.nonzero(support[::2, ::2])
        if category.archetype == "ship" and support is not None
        else None
    )
    n = int(rng.integers(look.count[0], look.count[1] + 1))
    angle, _ = draw_angle(rng, look)
    anchor: tuple[float, float] | None = None
    on_road = False
    for i in range(n):
        for attempt in range(25):
            size = ("small", "large")[int(rng.integers(0, 2))] if look.sized else None
            length = base * (SIZE_SCALE[size] if size else 1.0)
            wid = length * aspect
            if look.cluster and anchor is not None and attempt < 8:
                step = (wid if look.oriented or on_road else length) * 1.5 + 2
                k = i if attempt == 0 else i + attempt
                px = anchor[0] - k * step * math.sin(angle)
                py = anchor[1] + k * step * math.cos(angle)
            elif category.archetype == "road_marking":
                road = roads[int(rng.integers(0, len(roads)))]
                px, py, angle = _on_road(rng, road, side)
                angle += math.pi / 2
                on_road = True
            elif support is not None and category.archetype in ON_ROAD and rng.random() < 0.4:
                road = roads[int(rng.integers(0, len(roads)))]
                px, py, angle = _on_road(rng, road, side)
                on_road = not look.cluster or anchor is None
            elif spots is not None:
                ys, xs = spots
                if len(xs) == 0:
                    return out
                j = int(rng.integers(0, len(xs)))
                px, py = float(xs[j] * 2 + 1), float(ys[j] * 2 + 1)
                if not look.cluster or anchor is None:
                    angle, _ = draw_angle(rng, look)
            else:
                px = rng.uniform(0.06, 0.94) * width
                py = rng.uniform(0.06, 0.94) * height
                if not look.cluster or anchor is None:
                    angle, _ = draw_angle(rng, look)
            verts = polygon(look.shape, px, py, length, wid, angle, rng)
            if (
                verts[:, 0].min() < 1
                or verts[:, 1].min() < 1
                or verts[:, 0].max() > width - 1
                or verts[:, 1].max() > height - 1
            ):
                continue
            if _surely_blocked(verts, px, py, canvas, support):
                continue
            frame = (px, py, length, wid, angle)
            p = make(
                category.archetype, category, verts, width, height, "", size, angle, frame, True
            )
            if p is None:
                continue
            x0, x1, y0, y1 = p.win
            things = canvas.things[y0:y1, x0:x1]
            blocked = things | canvas.background[y0:y1, x0:x1]
            if support is not None:
                on_support = support[y0:y1, x0:x1]
                blocked &= ~on_support | things
                if category.archetype in ("ship", "road_marking") and (p.m & ~on_support).any():
                    continue
            if (p.m & blocked).any():
                continue
            p.colour = draw_colour(rng, look)
            canvas.add(p)
            out.append(p)
            if anchor is None:
                anchor = (px, py)
            break
    return out


def _surely_blocked(
    verts: np.ndarray, px: float, py: float, canvas: Canvas, support: np.ndarray | None
) -> bool:
    """Cheap rejection before rasterising: the centre or a vertex lies on a taken pixel.

    Rejecting a candidate only changes where objects end up, never a mask, so this test may
    be stricter than the exact one that follows.
    """
    xs = np.minimum(np.append(verts[:, 0], px).astype(int), canvas.w - 1)
    ys = np.minimum(np.append(verts[:, 1], py).astype(int), canvas.h - 1)
    taken = canvas.things[ys, xs]
    if support is None:
        taken |= canvas.background[ys, xs]
    return bool(taken.any())
