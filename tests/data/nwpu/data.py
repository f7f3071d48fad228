"""Seeded generator of a miniature NWPU-Refer release in the layout the third-party loaders read.

``variant="new"`` writes ``new_refs(unc).p`` + ``new_instances.json``, ``variant="old"``
``refs(unc).p`` + ``instances.json``; ``image_dir`` is ``image/image`` (the archive's nesting),
``image`` (flattened) or ``""`` (images beside the annotation files). Content (5 images,
13 annotations, 14 refs):

* image 1 (64×48): three cars referred to by three refs sharing "all cars" / "所有汽车"
  (multi-target groups); a `no target` ref with an English and a Chinese sentence; one car
  alone; polygons and a compressed RLE;
* image 2: uncompressed RLE; a self-intersecting ("bow-tie") polygon; a polygon with two
  points beside a valid one; a mixed-language sentence "3号 airplane";
* image 3 (48×64): a polygon reaching outside the image; a `no target` ref;
* image 4: one ref whose ``ann_id`` is a list (two bridges); a real category with an empty
  segmentation;
* image 5: the same ref text in val and test (image reused across splits).

One call writes one variant:

    python tests/data/nwpu/data.py OUT_DIR [--variant new|old] [--image-dir image/image|image|.]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

if __name__ == "__main__":  # run as a script: make tests/ importable for data.refer.data
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from data.refer.data import jpeg_bytes, rect_mask, rle_of, write_json, write_pickle

NWPU_CATEGORIES = [
    "car",
    "ship",
    "photovolatic",
    "building",
    "airplane",
    "road",
    "bridge",
    "basketball court",
    "container",
    "train",
    "pool",
    "storage tank",
    "tennis court",
    "ground track field",
    "football court",
    "pylon",
    "digger",
    "wind turbine",
    "construction tower",
    "road intersection",
    "parking",
    "baseball court",
    "river",
    "chimney",
    "airplaneroad",
    "ocean",
    "land",
    "rugby court",
    "lake",
    "grass",
    "badminton court",
    "dam",
    "no target",
]
CAT = {name: i + 1 for i, name in enumerate(NWPU_CATEGORIES)}

# image_id -> (file name, width, height)
IMAGES = {
    1: ("P0001.jpg", 64, 48),
    2: ("P0002.jpg", 64, 64),
    3: ("P0003.jpg", 48, 64),
    4: ("P0004.jpg", 64, 64),
    5: ("P0005.jpg", 64, 64),
}


def _rect(x0: int, y0: int, x1: int, y1: int) -> list[int]:
    return [x0, y0, x1, y0, x1, y1, x0, y1]


def annotations() -> list[dict[str, Any]]:
    """The 13 annotations (ids 101..113)."""
    uncompressed = rect_mask(64, 64, 30, 30, 50, 40)
    flat = uncompressed.flatten(order="F")
    runs, prev, n = [], 0, 0
    for v in flat:
        if v != prev:
            runs.append(n)
            n, prev = 0, v
        n += 1
    runs.append(n)
    return [
        {
            "id": 101,
            "image_id": 1,
            "category_id": CAT["car"],
            "segmentation": [_rect(2, 2, 12, 10)],
            "bbox": [2, 2, 10, 8],
        },
        {
            "id": 102,
            "image_id": 1,
            "category_id": CAT["car"],
            "segmentation": [_rect(20, 5, 30, 15)],
            "bbox": [20, 5, 10, 10],
        },
        {
            "id": 103,
            "image_id": 1,
            "category_id": CAT["car"],
            "segmentation": rle_of(rect_mask(48, 64, 40, 30, 50, 40)),
            "bbox": [40, 30, 10, 10],
        },
        {
            "id": 104,
            "image_id": 1,
            "category_id": CAT["no target"],
            "segmentation": [],
            "bbox": [0, 0, 0, 0],
        },
        {
            "id": 105,
            "image_id": 2,
            "category_id": CAT["building"],
            "segmentation": {"size": [64, 64], "counts": runs},
            "bbox": [30, 30, 20, 10],
        },
        {
            "id": 106,
            "image_id": 2,
            "category_id": CAT["ship"],
            "segmentation": [[0, 0, 20, 20, 20, 0, 0, 20]],
            "bbox": [0, 0, 20, 20],
        },
        {
            "id": 107,
            "image_id": 2,
            "category_id": CAT["airplane"],
            "segmentation": [[5, 40, 15, 40], _rect(5, 45, 15, 55)],
            "bbox": [5, 45, 10, 10],
        },
        {
            "id": 108,
            "image_id": 3,
            "category_id": CAT["pool"],
            "segmentation": [_rect(40, 50, 60, 70)],
            "bbox": [40, 50, 8, 14],
        },
        {
            "id": 109,
            "image_id": 3,
            "category_id": CAT["no target"],
            "segmentation": [],
            "bbox": [0, 0, 0, 0],
        },
        {
            "id": 110,
            "image_id": 4,
            "category_id": CAT["bridge"],
            "segmentation": [_rect(0, 10, 30, 14)],
            "bbox": [0, 10, 30, 4],
        },
        {
            "id": 111,
            "image_id": 4,
            "category_id": CAT["bridge"],
            "segmentation": [_rect(0, 40, 30, 44)],
            "bbox": [0, 40, 30, 4],
        },
        {
            "id": 112,
            "image_id": 5,
            "category_id": CAT["tennis court"],
            "segmentation": rle_of(rect_mask(64, 64, 10, 10, 30, 20)),
            "bbox": [10, 10, 20, 10],
        },
        {
            "id": 113,
            "image_id": 4,
            "category_id": CAT["storage tank"],
            "segmentation": [],
            "bbox": [50, 50, 5, 5],
        },
    ]


# (ref_id, image_id, ann_id (int or list), split, sentences)
REFS: list[tuple[int, int, Any, str, list[str]]] = [
    (1, 1, 101, "train", ["all cars", "所有汽车"]),
    (2, 1, 102, "train", ["all cars", "所有汽车"]),
    (3, 1, 103, "train", ["all  cars ", "所有汽车"]),
    (4, 1, 104, "train", ["the airplane on the runway", "跑道上的飞机"]),
    (5, 1, 101, "train", ["the car at the top left"]),
    (6, 2, 105, "train", ["the white building"]),
    (7, 2, 106, "train", ["the ship"]),
    (8, 2, 107, "train", ["3号 airplane"]),
    (9, 3, 108, "val", ["the pool on the right"]),
    (10, 3, 109, "val", ["the red bus"]),
    (11, 4, [110, 111], "test", ["two bridges"]),
    (12, 4, 113, "test", ["the storage tank"]),
    (13, 5, 112, "val", ["the tennis court"]),
    (14, 5, 112, "test", ["the tennis court"]),
]
EXPECTED_COUNTS = {"train": 8, "val": 3, "test": 3}
EXPECTED_TARGET_TYPES = {
    "train": {"single": 4, "multi": 2, "none": 2},
    "val": {"single": 2, "multi": 0, "none": 1},
    "test": {"single": 2, "multi": 1, "none": 0},
}
EXPECTED_IMAGES = {"train": 2, "val": 2, "test": 2}


@dataclass
class NWPUExpect:
    root: Path
    sent_ids: dict[tuple[int, int], int] = field(default_factory=dict)  # (ref_id, k) -> sent_id


def make_nwpu_release(
    root: Path, variant: str = "new", image_dir: str = "image/image", seed: int = 0
) -> NWPUExpect:
    """Write the miniature release with its files at ``root``."""
    prefix = "new_" if variant == "new" else ""
    expect = NWPUExpect(root)
    images = []
    for image_id, (fname, w, h) in IMAGES.items():
        folder = root / image_dir if image_dir not in ("", ".") else root
        folder.mkdir(parents=True, exist_ok=True)
        (folder / fname).write_bytes(jpeg_bytes(w, h, seed + image_id))
        # the JSON sizes are not trusted (the loaders never check them); one is wrong on purpose
        images.append(
            {"id": image_id, "file_name": fname, "width": w, "height": h if image_id != 3 else 48}
        )
    refs = []
    sent_id = 10
    for ref_id, image_id, ann_id, split, sentences in REFS:
        sents = []
        for k, s in enumerate(sentences):
            sents.append({"raw": s, "sent": s, "sent_id": sent_id, "tokens": s.split()})
            expect.sent_ids[(ref_id, k)] = sent_id
            sent_id += 1
        cat = None
        refs.append(
            {
                "ref_id": ref_id,
                "image_id": image_id,
                "ann_id": ann_id,
                "split": split,
                "category_id": cat,
                "sentences": sents,
                "sent_ids": [s["sent_id"] for s in sents],
                "file_name": IMAGES[image_id][0],
            }
        )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(refs))
    write_pickle(root / f"{prefix}refs(unc).p", [refs[i] for i in order])
    write_json(
        root / f"{prefix}instances.json",
        {
            "images": images,
            "annotations": annotations(),
            "categories": [{"id": i, "name": n} for n, i in CAT.items()],
        },
    )
    return expect


def main(argv: list[str] | None = None) -> None:
    """Write the miniature release (one variant) to the folder named on the command line."""
    parser = argparse.ArgumentParser(description="Write a miniature NWPU-Refer release.")
    parser.add_argument("out", nargs="?", default="nwpu-mini", type=Path)
    parser.add_argument(
        "--variant",
        choices=["new", "old"],
        default="new",
        help="new: new_refs(unc).p + new_instances.json; old: refs(unc).p + instances.json",
    )
    parser.add_argument(
        "--image-dir",
        choices=["image/image", "image", "."],
        default="image/image",
        help="where the images go, relative to OUT ('.': beside the annotation files)",
    )
    args = parser.parse_args(argv)
    make_nwpu_release(args.out, variant=args.variant, image_dir=args.image_dir)
    print(args.out)


if __name__ == "__main__":
    main()
