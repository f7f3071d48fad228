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
from rrsis_bench.synthetic.categories import Category
from rrsis_bench.synthetic.geometry import flat
from rrsis_bench.synthetic.placement import (
    WATER,
    Canvas,
    Placed,
    place_background,
    place_things,
)

ORIENTATIONS = {0: "horizontal", 45: "diagonal", 90: "vertical", 135: "diagonal"}
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
    canvas = Canvas(width, height)

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

    placed: list[Placed] = []
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
        placed += place_background(name, None, rng, width, height, side, canvas, placed)
    for c in background:
        placed += place_background(c.archetype, c, rng, width, height, side, canvas, placed)
    for c in sorted((c for c in chosen if not c.look.background), key=lambda c: -c.look.length[1]):
        placed += place_things(c, rng, width, height, side, canvas)

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
