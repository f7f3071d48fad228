"""Seeded generator of a REFER look-alike release, and helpers shared by the REFER-family
generators (RRSIS-D, NWPU-Refer).

The look-alike is RefCOCO-shaped: ``<root>/<name>/refs(umd).p`` (several refs per image, one to
three sentences per ref, plain ``category_id``, ``[x, y, w, h]`` boxes), ``instances.json`` with
polygon and RLE segmentations, images under ``images/<name>/JPEGImages``.

    cd tests && python -m data.refer.data OUT_DIR
"""

from __future__ import annotations

import io
import json
import pickle
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask


def jpeg_bytes(width: int, height: int, seed: int, quality: int = 85) -> bytes:
    """A deterministic textured RGB JPEG."""
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 200, size=3)
    yy, xx = np.mgrid[0:height, 0:width]
    img = np.stack(
        [(base[c] + 30 * np.sin((xx + 7 * c) / 9.0) + 20 * np.cos(yy / 7.0)) for c in range(3)], -1
    )
    img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def write_jpeg(path: Path, width: int, height: int, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg_bytes(width, height, seed))


def rect_mask(height: int, width: int, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """A 0/1 mask with the half-open box [x0, x1) × [y0, y1) set."""
    m = np.zeros((height, width), dtype=np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def rle_of(mask: np.ndarray) -> dict[str, Any]:
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"].decode()}


def write_pickle(path: Path, obj: Any, protocol: int = 2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(obj, protocol=protocol))


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")


CATEGORIES = [
    {"id": 1, "name": "vehicle"},
    {"id": 2, "name": "building"},
    {"id": 3, "name": "tree"},
]


@dataclass
class ReferExpect:
    """What the look-alike holds (for exact assertions)."""

    root: Path
    name: str
    counts: dict[str, int] = field(default_factory=dict)  # expressions per split, ungrouped
    grouped_counts: dict[str, int] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)  # images per split
    masks: dict[int, np.ndarray] = field(default_factory=dict)  # ann_id -> mask


def make_refer_release(root: Path, name: str = "georef", seed: int = 0) -> ReferExpect:
    """Write the REFER look-alike under ``root`` (the folder holding ``<name>/``)."""
    rng = np.random.default_rng(seed)
    size = 48
    images, anns, refs = [], [], []
    expect = ReferExpect(root, name)
    ann_id, ref_id, sent_id = 100, 1000, 5000
    plan = [  # (image_id, split, [(category, box, sentences)])
        (
            1,
            "train",
            [
                (1, (2, 2, 12, 10), ["white car", "the car on the left"]),
                (1, (30, 30, 44, 40), ["white car"]),
            ],
        ),
        (
            2,
            "train",
            [(2, (5, 5, 25, 25), ["big building", "the large roof", "building top left"])],
        ),
        (3, "val", [(3, (10, 20, 20, 30), ["tree"]), (3, (30, 5, 40, 15), ["tree  on the right"])]),
        (5, "test", [(1, (0, 0, 8, 8), ["small car"])]),
    ]
    for image_id, split, objs in plan:
        images.append(
            {"id": image_id, "file_name": f"IMG_{image_id:04d}.jpg", "height": size, "width": size}
        )
        write_jpeg(
            root / "images" / name / "JPEGImages" / f"IMG_{image_id:04d}.jpg",
            size,
            size,
            seed + image_id,
        )
        for k, (cat, (x0, y0, x1, y1), sents) in enumerate(objs):
            m = rect_mask(size, size, x0, y0, x1, y1)
            expect.masks[ann_id] = m
            if k % 2 == 0:
                seg: Any = [[x0, y0, x1, y0, x1, y1, x0, y1]]
            else:
                seg = rle_of(m)
            anns.append(
                {
                    "id": ann_id,
                    "image_id": image_id,
                    "category_id": cat,
                    "segmentation": seg,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": float((x1 - x0) * (y1 - y0)),
                    "iscrowd": 0,
                }
            )
            sentences = []
            for s in sents:
                sentences.append(
                    {"tokens": s.split(), "raw": s, "sent": s.lower(), "sent_id": sent_id}
                )
                sent_id += 1
            refs.append(
                {
                    "ref_id": ref_id,
                    "ann_id": ann_id,
                    "image_id": image_id,
                    "split": split,
                    "category_id": cat,
                    "file_name": f"IMG_{image_id:04d}_{ann_id}.jpg",
                    "sentences": sentences,
                    "sent_ids": [s["sent_id"] for s in sentences],
                }
            )
            ann_id += 1
            ref_id += 1
    # an unreferenced annotation on image 2 (REFER instances hold every instance of an image)
    m = rect_mask(size, size, 40, 40, 46, 46)
    anns.append(
        {
            "id": ann_id,
            "image_id": 2,
            "category_id": 3,
            "segmentation": rle_of(m),
            "bbox": [40, 40, 6, 6],
            "area": 36.0,
            "iscrowd": 0,
        }
    )
    expect.masks[ann_id] = m
    rng.shuffle(refs)  # order in the pickle must not matter
    write_pickle(root / name / "refs(umd).p", list(refs))
    write_json(
        root / name / "instances.json",
        {"images": images, "annotations": anns, "categories": CATEGORIES},
    )
    expect.counts = {"train": 6, "val": 2, "test": 1}
    expect.grouped_counts = {"train": 5, "val": 2, "test": 1}
    expect.images = {"train": 2, "val": 1, "test": 1}
    return expect


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "refer-lookalike")
    make_refer_release(out)
    print(out)
