"""A tiny built dataset (4×4 masks) whose category-prior predictions are computed by hand.

Train: "the car" = top-left 2×2, "all cars" = top row, "the ship" = bottom-right pixel
(so the car prior is 1 at (0,0),(0,1); 0.5 at (0,2),(0,3),(1,0),(1,1); the ship prior is 1 at
(3,3)). Val and test mix targeted and no-target expressions, one mentioning no category.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from data.records import make_inputs
from rrsis_bench import masks
from rrsis_bench.schema import ExpressionRecord, ImageRecord, ObjectRecord, Provenance
from rrsis_bench.store import write_dataset
from rrsis_bench.validate import Report

SIZE = 4


def pixels(*cells: tuple[int, int]) -> np.ndarray:
    """A 4×4 mask with the given (row, column) cells set."""
    m = np.zeros((SIZE, SIZE), dtype=np.uint8)
    for r, c in cells:
        m[r, c] = 1
    return m


TOP_LEFT = pixels((0, 0), (0, 1), (1, 0), (1, 1))
TOP_ROW = pixels((0, 0), (0, 1), (0, 2), (0, 3))
CORNER = pixels((3, 3))

# (split, sample_id, text, target_type, category, mask)
SAMPLES = [
    ("train", "t1", "the car", "single", "car", TOP_LEFT),
    ("train", "t2", "all cars", "multi", "car", TOP_ROW),
    ("train", "t3", "the ship", "single", "ship", CORNER),
    ("val", "v1", "the car", "single", "car", pixels((0, 0), (0, 1), (0, 2), (1, 0), (1, 1))),
    ("val", "v2", "the ship", "single", "ship", pixels((3, 3), (3, 2))),
    ("val", "v3", "the plane", "single", "plane", pixels((2, 0))),
    ("val", "v4", "the red car", "none", None, pixels()),
    ("test", "x1", "all cars", "multi", "car", TOP_ROW),
    ("test", "x2", "the ship", "single", "ship", CORNER),
    ("test", "x3", "the boat", "single", "boat", pixels((2, 0))),
    ("test", "x4", "the red ship", "none", None, pixels()),
]


def build(root: Path) -> Path:
    """Write the images and the built dataset under ``root``; return the build folder."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    records = []
    for i, (split, sid, text, ttype, cat, m) in enumerate(SAMPLES):
        path = root / "images" / f"{sid}.png"
        Image.fromarray(np.full((SIZE, SIZE, 3), 20 * i, dtype=np.uint8)).save(path)
        rle = masks.encode(m)
        objects = []
        if ttype != "none":
            objects = [ObjectRecord(sid, cat, 1, masks.bbox(rle), rle, masks.area(rle))]
        expr = ExpressionRecord(
            sample_id=sid,
            text=text,
            target_type=ttype,
            ref_key=sid,
            object_ids=[o.object_id for o in objects],
            categories=[cat] if cat else [],
            mask=rle,
            area=masks.area(rle),
            provenance=Provenance("refs.p", None, [sid], [sid], [sid]),
        )
        records.append(
            ImageRecord(
                image_id=sid,
                split=split,
                file_name=f"images/{path.name}",
                source=path,
                width=SIZE,
                height=SIZE,
                objects=objects,
                expressions=[expr],
                size_bytes=path.stat().st_size,
            )
        )
    return write_dataset(root / "built", records, make_inputs("tiny"), Report("tiny"))
