"""Composing one synthetic aerial scene: which objects, where, with which attributes.

A scene is drawn from a layout's categories: a ground theme, land cover and water, roads, then
countable things (vehicles, buildings, tanks, ships, courts, ...) placed without overlapping
each other. Every referable object keeps its polygon, its exact mask (the polygon rasterised,
:mod:`rrsis_bench.synthetic.raster`) and the attributes expressions may name: colour, size
class (``small``/``large``, two well separated scales) and orientation (``horizontal``,
``vertical``, ``diagonal``, from angles drawn near 0°, 90°, 45° and 135°).

Nothing visible is left unannotated: decoration (a road or water nobody can refer to) is only
drawn when the layout has no category for it, so an expression naming an absent category is
truly a no-target expression.

Example:
    >>> import numpy as np
    >>> from rrsis_bench.synthetic.categories import NWPU_CATEGORIES
    >>> scene = compose(NWPU_CATEGORIES, np.random.default_rng(0), 128, 128)
    >>> scene.image.shape, scene.image.dtype.name
    ((128, 128, 3), 'uint8')
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rrsis_bench import masks
from rrsis_bench.schema import Rle
from rrsis_bench.synthetic import render
from rrsis_bench.synthetic.categories import ARCHETYPES, Archetype, Category
from rrsis_bench.synthetic.geometry import clip_to_image, edge_band, flat, polygon
from rrsis_bench.synthetic.raster import extent, rasterize, window

SIZE_SCALE = {"small": 0.8, "large": 1.25}
"""Scale of the two size classes of a category within one scene (areas differ about 2.4×)."""

ORIENTATIONS = {0: "horizontal", 45: "diagonal", 90: "vertical", 135: "diagonal"}
MIN_AREA = 6
WATER = ("lake", "river", "ocean")
ON_ROAD = ("car", "van", "truck", "bus", "trailer")
SHADOW_HEIGHT = {
    "building": 0.22,
    "storage_tank": 0.18,
    "chimney": 1.6,
    "tree": 0.25,
    "windmill": 0.6,
    "pylon": 1.2,
    "crane": 0.4,
    "car": 0.12,
    "van": 0.14,
    "truck": 0.14,
    "bus": 0.12,
    "trailer": 0.12,
    "digger": 0.14,
    "station": 0.06,
    "stadium": 0.08,
}


@dataclass
class SceneObject:
    """One referable object of a scene.

    Attributes:
        index: Position in :attr:`Scene.objects`.
        category: The layout's category.
        colour: The colour it is painted with.
        size: ``small`` / ``large`` for categories with two sizes, else None.
        orientation: ``horizontal`` / ``vertical`` / ``diagonal`` for oriented categories.
        vertices: The polygon, ``(n, 2)``, 0.1 px precision.
        mask: Its mask (the polygon rasterised over the image).
        area: Mask pixel count.
        bbox: Mask extent ``[x, y, w, h]``.
        centroid: Mask centre of mass ``(x, y)`` in pixel coordinates.
    """

    index: int
    category: Category
    colour: str
    size: str | None
    orientation: str | None
    vertices: np.ndarray
    mask: Rle
    area: int
    bbox: list[float]
    centroid: tuple[float, float]

    @property
    def polygon(self) -> list[float]:
        """COCO polygon ``[x1, y1, x2, y2, ...]``."""
        return flat(self.vertices)


@dataclass
class Scene:
    """A rendered scene: the RGB image and its referable objects."""

    width: int
    height: int
    image: np.ndarray
    objects: list[SceneObject] = field(default_factory=list)
    categories: tuple[Category, ...] = ()

    def present(self) -> set[str]:
        """Names of the categories that occur in the scene."""
        return {o.category.name for o in self.objects}


@dataclass
class _Placed:
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


class _Canvas:
    """Occupancy bookkeeping while placing objects."""

    def __init__(self, width: int, height: int):
        self.w, self.h = width, height
        self.things = np.zeros((height, width), dtype=bool)
        self.by_archetype: dict[str, np.ndarray] = {}
        self.referable_bg = np.zeros((height, width), dtype=bool)
        self.background = np.zeros((height, width), dtype=bool)
        self.edges: dict[str, list[tuple[float, float, float, float, float]]] = {}

    def add(self, p: _Placed) -> None:
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


def _make(
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
) -> _Placed | None:
    if len(vertices) < 3:
        return None
    rle = rasterize(flat(vertices), height, width)
    if masks.area(rle) < MIN_AREA:
        return None
    win = extent(vertices, width, height)
    m = window(rle, *win)
    look = ARCHETYPES[archetype]
    return _Placed(
        archetype, category, look, colour, size, angle, vertices, rle, win, m, frame, referable
    )


def _angle(rng: np.random.Generator, look: Archetype) -> tuple[float, int]:
    if not look.oriented:
        return float(rng.uniform(0, math.pi)), -1
    base = int(rng.choice([0, 45, 90, 135]))
    return math.radians(base + rng.uniform(-3, 3)), base


def _colour(rng: np.random.Generator, look: Archetype) -> str:
    n = len(look.palette)
    weights = np.array([2.0] + [1.0] * (n - 1))
    return str(look.palette[int(rng.choice(n, p=weights / weights.sum()))])


def compose(
    categories: Sequence[Category], rng: np.random.Generator, width: int, height: int
) -> Scene:
    """Draw and render one scene from a layout's categories.

    Args:
        categories: The layout's categories (what can appear and be referred to).
        rng: The scene's own random generator (one per scene keeps generation deterministic
            whatever the number of processes).
        width: Image width in pixels.
        height: Image height in pixels.
    """
    side = float(min(width, height))
    bound = {c.archetype for c in categories}
    img = render.ground(rng, height, width, str(rng.choice(sorted(render.GROUNDS))))
    canvas = _Canvas(width, height)

    weights = np.array([c.weight for c in categories], dtype=float)
    k = min(len(categories), int(rng.integers(3, 7)))
    chosen = [
        categories[i]
        for i in rng.choice(len(categories), k, replace=False, p=weights / weights.sum())
    ]
    if any(c.archetype == "ship" for c in chosen) and not any(c.archetype in WATER for c in chosen):
        water = [c for c in categories if c.archetype in WATER]
        if water:
            chosen.append(water[int(rng.integers(0, len(water)))])

    placed: list[_Placed] = []
    background = sorted(
        (c for c in chosen if c.look.background),
        key=lambda c: (c.look.shape != "blob", c.archetype not in WATER),
    )
    decor: list[str] = []
    if "road" not in bound and rng.random() < 0.6:
        decor.append("road")
    if any(c.archetype == "ship" for c in chosen) and not (bound & set(WATER)):
        decor.insert(0, "lake" if rng.random() < 0.5 else "river")
    for name in decor:
        placed += _place_background(name, None, rng, width, height, side, canvas, placed)
    for c in background:
        placed += _place_background(c.archetype, c, rng, width, height, side, canvas, placed)
    for c in sorted((c for c in chosen if not c.look.background), key=lambda c: -c.look.length[1]):
        placed += _place_things(c, rng, width, height, side, canvas)

    sun = rng.uniform(0, 2 * math.pi)
    for p in placed:
        if p.look.background:
            render.paint(img, p.m, p.win, p.colour, p.look.pattern, p.frame, rng)
    free = ~canvas.things
    for p in placed:
        h = SHADOW_HEIGHT.get(p.archetype, 0.0)
        if not p.look.background and h > 0:
            d = max(1.0, h * p.frame[2])
            render.shadow(
                img, p.m, p.win, (round(d * math.cos(sun)), round(d * math.sin(sun))), free
            )
    for p in placed:
        if not p.look.background:
            render.paint(img, p.m, p.win, p.colour, p.look.pattern, p.frame, rng)

    objects: list[SceneObject] = []
    for p in placed:
        if not p.referable or p.category is None:
            continue
        ys, xs = np.nonzero(p.m)
        cx = float(xs.mean()) + p.win[0] + 0.5
        cy = float(ys.mean()) + p.win[2] + 0.5
        orient = None
        if p.look.oriented and not p.look.stuff:
            orient = ORIENTATIONS[round(math.degrees(p.angle) / 45.0) * 45 % 180]
        objects.append(
            SceneObject(
                index=len(objects),
                category=p.category,
                colour=p.colour,
                size=p.size,
                orientation=orient,
                vertices=p.vertices,
                mask=p.mask,
                area=int(p.m.sum()),
                bbox=masks.bbox(p.mask),
                centroid=(cx, cy),
            )
        )
    return Scene(width, height, render.finish(img), objects, tuple(categories))


def _place_background(
    archetype: str,
    category: Category | None,
    rng: np.random.Generator,
    width: int,
    height: int,
    side: float,
    canvas: _Canvas,
    placed: list[_Placed],
) -> list[_Placed]:
    look = ARCHETYPES[archetype]
    out: list[_Placed] = []
    referable = category is not None
    n = int(rng.integers(look.count[0], look.count[1] + 1))
    roads = [p for p in placed if p.archetype == "road"]
    for i in range(n):
        for _ in range(12):
            colour = _colour(rng, look)
            if look.shape == "edge":
                wpx = rng.uniform(*look.length) * side
                if archetype in ("sidewalk", "bikeway") and roads:
                    road = roads[int(rng.integers(0, len(roads)))]
                    rcx, rcy, _, rw, ra = road.frame
                    off = (rw / 2 + 2 + wpx / 2) * (1 if rng.random() < 0.5 else -1)
                    px, py = rcx - off * math.sin(ra), rcy + off * math.cos(ra)
                    angle = ra
                else:
                    angle, _ = _angle(rng, look)
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
            p = _make(
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


def _place_things(
    category: Category,
    rng: np.random.Generator,
    width: int,
    height: int,
    side: float,
    canvas: _Canvas,
) -> list[_Placed]:
    look = category.look
    out: list[_Placed] = []
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
    angle, _ = _angle(rng, look)
    anchor: tuple[float, float] | None = None
    on_road = False
    for i in range(n):
        for attempt in range(25):
            size = str(rng.choice(["small", "large"])) if look.sized else None
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
                    angle, _ = _angle(rng, look)
            else:
                px = rng.uniform(0.06, 0.94) * width
                py = rng.uniform(0.06, 0.94) * height
                if not look.cluster or anchor is None:
                    angle, _ = _angle(rng, look)
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
            p = _make(
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
            p.colour = _colour(rng, look)
            canvas.add(p)
            out.append(p)
            if anchor is None:
                anchor = (px, py)
            break
    return out


def _surely_blocked(
    verts: np.ndarray, px: float, py: float, canvas: _Canvas, support: np.ndarray | None
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
