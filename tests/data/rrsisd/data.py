"""Seeded generator of a miniature RRSIS-D release in its real on-disk layout.

Writes ``rrsisd/refs(unc).p`` (the verbatim ref schema of research §2.2, pickle protocol 2),
``rrsisd/instances.json`` (``categories_id``, ``[x1, y1, x2, y2]`` boxes, a list holding one
compressed RLE, a bogus ``area``, the 20 DIOR categories) and ``images/rrsisd/JPEGImages`` +
optional ``images/rrsisd/ann_split`` XML, with the known defects:

* image 9976 is 48×49 (w×h) while its RLE and instances.json say 48×48 (``size_mismatch``);
* image 15324 has a zero-area mask (``empty_mask``);
* image 1210's JPEG is truncated (``image-unreadable``, skipped);
* ids are non-contiguous; 413 and 22187 are on the published exclusion lists;
* one ref stores its ids as numpy scalars (read through the unpickler's shim).

``layout="drive"`` writes the Google Drive form instead: the four files side by side, with
``JPEGImages.zip`` and ``ann_split.zip``.

    python tests/data/rrsisd/data.py OUT_DIR [--layout nested|drive] [--no-xml]
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

if __name__ == "__main__":  # run as a script: make tests/ importable for data.refer.data
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from data.refer.data import jpeg_bytes, rect_mask, rle_of, write_json, write_pickle

DIOR_CATEGORIES = [
    "Expressway-Service-area",
    "Expressway-toll-station",
    "airplane",
    "airport",
    "baseballfield",
    "basketballcourt",
    "bridge",
    "chimney",
    "dam",
    "golffield",
    "groundtrackfield",
    "harbor",
    "overpass",
    "ship",
    "stadium",
    "storagetank",
    "tenniscourt",
    "trainstation",
    "vehicle",
    "windmill",
]

SIZE = 48

# (image_id, split, category_id, half-open box x0, y0, x1, y1, sentence)
SAMPLES: list[tuple[int, str, int, tuple[int, int, int, int], str]] = [
    (11, "train", 4, (4, 6, 20, 18), "The baseball field on the top"),
    (413, "train", 18, (30, 30, 34, 38), "The vehicle is above the chimney"),
    (1210, "train", 13, (10, 10, 30, 20), "The ship on the left"),
    (2934, "train", 4, (0, 0, 24, 24), "The baseball field on the top"),
    (6000, "train", 18, (20, 5, 26, 9), "A vehicle in the middle"),
    (9976, "train", 2, (12, 12, 40, 40), "The airplane in the center"),
    (110, "val", 4, (8, 8, 40, 30), "The green and brown baseball field"),
    (14636, "val", 18, (40, 2, 44, 10), "The vehicle is above the chimney at the bottom"),
    (22187, "val", 19, (2, 30, 10, 46), "The windmill at the bottom left"),
    (7855, "test", 13, (20, 20, 36, 28), "The ship on the right"),
    (15324, "test", 7, (0, 0, 0, 0), "The chimney on the right"),
    (20203, "test", 0, (1, 1, 47, 47), "The service area"),
]
EXPECTED_COUNTS = {"train": 5, "val": 3, "test": 3}  # 1210 is truncated and skipped


@dataclass
class RRSISDExpect:
    root: Path
    masks: dict[int, np.ndarray] = field(default_factory=dict)
    xyxy: dict[int, list[int]] = field(default_factory=dict)
    areas: dict[int, int] = field(default_factory=dict)


def _xml(image_id: int, split: str, box: list[int], sentence: str, category: str) -> str:
    other = (
        "<object><name>vehicle</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>3</xmax>"
        "<ymax>3</ymax></bndbox><description>an unused DIOR-RSVG sentence</description></object>"
    )
    x1, y1, x2, y2 = box
    return (
        f"<annotation><filename>{image_id:05d}.jpg</filename><split>{split}</split>{other}"
        f"<object><name>{category}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
        f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox><description>{sentence}</description>"
        "<segmentation>{'size': [48, 48], 'counts': '...'}</segmentation></object></annotation>\n"
    )


def make_rrsisd_release(
    root: Path, seed: int = 0, layout: str = "nested", xml: bool = True
) -> RRSISDExpect:
    """Write the miniature release under ``root``; ``layout`` is ``nested`` or ``drive``."""
    expect = RRSISDExpect(root)
    refs: list[dict[str, Any]] = []
    images, anns = [], []
    jpegs: dict[str, bytes] = {}
    xmls: dict[str, str] = {}
    for image_id, split, cat, (x0, y0, x1, y1), sentence in SAMPLES:
        fname = f"{image_id:05d}.jpg"
        mask = rect_mask(SIZE, SIZE, x0, y0, x1, y1)
        expect.masks[image_id] = mask
        area = int(mask.sum())
        expect.areas[image_id] = area
        # RRSIS-D's box is [x1, y1, x2, y2]; a SAM mask overflows it by a pixel here and there
        box = [x0, y0, x1, y1] if area else [5, 5, 9, 9]
        expect.xyxy[image_id] = box
        height = SIZE + 1 if image_id == 9976 else SIZE
        data = jpeg_bytes(SIZE, height, seed + image_id)
        if image_id == 1210:
            data = data[: len(data) // 2]
        jpegs[fname] = data
        images.append({"file_name": fname, "height": SIZE, "width": SIZE, "id": image_id})
        anns.append(
            {
                "bbox": box,
                "categories_id": cat,
                "id": image_id,
                "image_id": image_id,
                "segmentation": [rle_of(mask)],
                "area": (x1 - x0 + 1) * (y1 - y0 + 1) * 251,
            }
        )
        ids: Any = image_id
        if image_id == 6000:
            ids = np.int64(image_id)
        refs.append(
            {
                "image_id": ids,
                "split": split,
                "sentences": [
                    {
                        "tokens": sentence.split(" "),
                        "raw": sentence,
                        "sent_id": ids,
                        "sent": sentence,
                    }
                ],
                "file_name": fname,
                "category_id": np.int64(cat) if image_id == 6000 else cat,
                "ann_id": ids,
                "sent_ids": [ids],
                "ref_id": ids,
            }
        )
        xmls[f"{image_id:05d}.xml"] = _xml(image_id, split, box, sentence, DIOR_CATEGORIES[cat])
    instances = {
        "images": images,
        "annotations": anns,
        "categories": [{"name": n, "id": i} for i, n in enumerate(DIOR_CATEGORIES)],
    }
    if layout == "nested":
        write_pickle(root / "rrsisd" / "refs(unc).p", refs)
        write_json(root / "rrsisd" / "instances.json", instances)
        for fname, data in jpegs.items():
            p = root / "images" / "rrsisd" / "JPEGImages" / fname
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        if xml:
            for fname, text in xmls.items():
                p = root / "images" / "rrsisd" / "ann_split" / fname
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text(text, encoding="utf-8")
    elif layout == "drive":
        write_pickle(root / "refs(unc).p", refs)
        write_json(root / "instances.json", instances)
        with zipfile.ZipFile(root / "JPEGImages.zip", "w") as zf:
            for fname, data in sorted(jpegs.items()):
                zf.writestr(zipfile.ZipInfo(f"JPEGImages/{fname}", (2024, 1, 1, 0, 0, 0)), data)
        if xml:
            with zipfile.ZipFile(root / "ann_split.zip", "w") as zf:
                for fname, text in sorted(xmls.items()):
                    zf.writestr(zipfile.ZipInfo(f"ann_split/{fname}", (2024, 1, 1, 0, 0, 0)), text)
    else:
        raise ValueError(f"unknown layout {layout!r}")
    return expect


def main(argv: list[str] | None = None) -> None:
    """Write the miniature release to the folder named on the command line."""
    parser = argparse.ArgumentParser(description="Write a miniature RRSIS-D release.")
    parser.add_argument("out", nargs="?", default="rrsisd-mini", type=Path)
    parser.add_argument("--layout", choices=["nested", "drive"], default="nested")
    parser.add_argument("--no-xml", action="store_true", help="leave out ann_split")
    args = parser.parse_args(argv)
    make_rrsisd_release(args.out, layout=args.layout, xml=not args.no_xml)
    print(args.out)


if __name__ == "__main__":
    main()
