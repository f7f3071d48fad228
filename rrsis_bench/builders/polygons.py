"""Checking and repairing COCO polygons before they are rasterised.

A polygon is a flat ``[x1, y1, x2, y2, ...]`` list in pixel coordinates. Three defects are
found in hand-made annotations:

* fewer than 3 points (or an odd number of coordinates, or non-finite values): nothing to
  fill; the polygon is dropped and flagged ``polygon_invalid``;
* a self-intersecting ring ("bow tie"): repaired with :func:`shapely.make_valid` into its
  polygonal parts (holes are cut out after rasterising), flagged ``polygon_repaired``; when
  no area survives the repair the ring is rasterised as given and flagged ``polygon_invalid``;
* points outside the image: pycocotools clips the raster to the image, flagged
  ``polygon_clipped``.

Example:
    >>> r = repair_polygons([[0, 0, 10, 10, 10, 0, 0, 10]], height=20, width=20)
    >>> sorted(r.flags), len(r.exteriors)
    (['polygon_repaired'], 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from shapely.geometry import GeometryCollection, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity, make_valid


@dataclass
class PolygonRepair:
    """Rings to rasterise (holes are cut out of the exteriors) and what was done."""

    exteriors: list[list[float]] = field(default_factory=list)
    holes: list[list[float]] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)


def _flat(coords: object) -> list[float]:
    pts = list(coords)  # type: ignore[call-overload]
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts = pts[:-1]
    return [float(v) for xy in pts for v in xy]


def _parts(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom] if not geom.is_empty and geom.area > 0 else []
    if isinstance(geom, MultiPolygon | GeometryCollection):
        return [p for g in geom.geoms for p in _parts(g)]
    return []


def repair_polygons(
    polygons: list[list[float]], height: int, width: int, *, repair: bool = True
) -> PolygonRepair:
    """Check every polygon of one annotation and repair what can be repaired.

    Args:
        polygons: Flat coordinate lists.
        height: Image height in pixels.
        width: Image width in pixels.
        repair: Repair self-intersections (else flag them ``polygon_invalid`` and keep them).
    """
    out = PolygonRepair()
    for k, poly in enumerate(polygons):
        coords = list(poly)
        if len(coords) % 2:
            out.flags.add("polygon_invalid")
            out.problems.append(f"polygon {k} has an odd number of coordinates ({len(coords)})")
            coords = coords[:-1]
        if not all(math.isfinite(v) for v in coords):
            out.flags.add("polygon_invalid")
            out.problems.append(f"polygon {k} has non-finite coordinates (dropped)")
            continue
        points = list(zip(coords[0::2], coords[1::2], strict=True))
        distinct = len(set(points))
        if distinct < 3:
            out.flags.add("polygon_invalid")
            out.problems.append(
                f"polygon {k} has {distinct} distinct points, fewer than 3 (dropped)"
            )
            continue
        xs, ys = coords[0::2], coords[1::2]
        if min(xs) < 0 or min(ys) < 0 or max(xs) > width or max(ys) > height:
            out.flags.add("polygon_clipped")
            out.problems.append(
                f"polygon {k} reaches outside the {width}×{height} image "
                f"(x {min(xs):g}..{max(xs):g}, y {min(ys):g}..{max(ys):g}); clipped"
            )
        shape = Polygon(points)
        if shape.is_valid:
            out.exteriors.append(coords)
            continue
        why = explain_validity(shape)
        parts = _parts(make_valid(shape)) if repair else []
        if not parts:
            out.flags.add("polygon_invalid")
            out.problems.append(f"polygon {k} is invalid ({why}); rasterised as given")
            out.exteriors.append(coords)
            continue
        out.flags.add("polygon_repaired")
        out.problems.append(f"polygon {k} is invalid ({why}); repaired into {len(parts)} part(s)")
        for part in parts:
            out.exteriors.append(_flat(part.exterior.coords))
            out.holes.extend(_flat(ring.coords) for ring in part.interiors)
    return out
