"""Seeded generator of tiny built datasets for the loading and interop tests.

``write_built(tmp_path)`` writes image files and a built dataset (with
``rrsis_bench.store.write_dataset``) holding every case the loaders and exporters must handle:
single-target, multi-target and no-target expressions, a ref with two sentences, a Chinese
sentence, a targeted expression whose object mask is empty, JPEG and PNG images, non-square
images, and image files in a sub-folder.

Layout of the fixture (image size 48 x 64, height x width):

    split  image  objects               expressions (sample_id: target type, objects)
    train  1      o1 o2 vehicle, o3 ship  1: single o3; 2: multi o1+o2; 3-0, 3-1: single o1
    train  2      o4 airport            4: single o4; 5: none
    train  10     o5 ship               6: none; 7: single o5 (Chinese)
    val    3      o6 o7 vehicle         8: multi o6+o7; 9: single o6
    test   4      o8 airport            10: single o8; 11: none
    test   5      o9 ship (empty mask)  12: single o9 (flagged empty_mask)

Sentence ``k`` of a ref with several sentences is ``<ref_id>-<k>`` counted from 0, as the REFER
builders name them, so a REFER export built again keeps every sample id.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from rrsis_bench import masks
from rrsis_bench.card import CardInfo
from rrsis_bench.schema import (
    ExpressionRecord,
    ImageRecord,
    ObjectRecord,
    Provenance,
    detect_language,
)
from rrsis_bench.store import BuildInputs, write_dataset
from rrsis_bench.validate import Report

HEIGHT, WIDTH = 48, 64
CATEGORY_IDS = {"vehicle": 18, "ship": 14, "airport": 2}

# image_id, split, extension, objects [(object_id, category)], expressions
# [(sample_id, ref_key, text, object_ids)]
LAYOUT: list[tuple[str, str, str, list[tuple[str, str]], list[tuple[str, str, str, list[str]]]]] = [
    (
        "1",
        "train",
        "jpg",
        [("o1", "vehicle"), ("o2", "vehicle"), ("o3", "ship")],
        [
            ("1", "1", "the ship on the left", ["o3"]),
            ("2", "2", "all vehicles", ["o1", "o2"]),
            ("3-0", "3", "the upper vehicle", ["o1"]),
            ("3-1", "3", "vehicle near the top", ["o1"]),
        ],
    ),
    (
        "2",
        "train",
        "png",
        [("o4", "airport")],
        [("4", "4", "the airport", ["o4"]), ("5", "5", "the harbor", [])],
    ),
    (
        "10",
        "train",
        "jpg",
        [("o5", "ship")],
        [("6", "6", "the airplane", []), ("7", "7", "左边的船", ["o5"])],
    ),
    (
        "3",
        "val",
        "jpg",
        [("o6", "vehicle"), ("o7", "vehicle")],
        [("8", "8", "both cars", ["o6", "o7"]), ("9", "9", "the left car", ["o6"])],
    ),
    (
        "4",
        "test",
        "jpg",
        [("o8", "airport")],
        [("10", "10", "the airport runway", ["o8"]), ("11", "11", "the stadium", [])],
    ),
    ("5", "test", "jpg", [("o9", "ship")], [("12", "12", "the small ship", ["o9"])]),
]

COUNTS = {
    "train": {"images": 3, "expressions": 8, "objects": 5, "single": 5, "multi": 1, "none": 2},
    "val": {"images": 1, "expressions": 2, "objects": 2, "single": 1, "multi": 1, "none": 0},
    "test": {"images": 2, "expressions": 3, "objects": 2, "single": 2, "multi": 0, "none": 1},
}


def _object_mask(rng: np.random.Generator, index: int) -> np.ndarray:
    """A rectangle, or an ellipse with a hole for every third object (holes matter for polygons)."""
    m = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    h = int(rng.integers(6, 16))
    w = int(rng.integers(6, 20))
    y = int(rng.integers(0, HEIGHT - h))
    x = int(rng.integers(0, WIDTH - w))
    if index % 3 == 2:
        yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
        cy, cx = y + h / 2, x + w / 2
        inside = ((yy + 0.5 - cy) / (h / 2)) ** 2 + ((xx + 0.5 - cx) / (w / 2)) ** 2 <= 1
        m[inside] = 1
        m[int(cy), int(cx)] = 0
    else:
        m[y : y + h, x : x + w] = 1
    return m


def image_bytes(rng: np.random.Generator, ext: str) -> bytes:
    """Random RGB image encoded as JPEG or PNG."""
    pixels = rng.integers(0, 256, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG" if ext == "jpg" else "PNG")
    return buf.getvalue()


def make_records(root: Path, seed: int = 0, single_only: bool = False) -> list[ImageRecord]:
    """Write the image files under ``root/JPEGImages`` and return the records.

    ``single_only`` keeps single-target expressions only (the RRSIS-D shape).
    """
    rng = np.random.default_rng(seed)
    (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
    records: list[ImageRecord] = []
    index = 0
    for image_id, split, ext, objects, expressions in LAYOUT:
        file_name = f"JPEGImages/{image_id}.{ext}"
        data = image_bytes(rng, ext)
        (root / file_name).write_bytes(data)
        object_masks: dict[str, np.ndarray] = {}
        object_records: list[ObjectRecord] = []
        for object_id, category in objects:
            m = _object_mask(rng, index)
            index += 1
            flags: list[str] = []
            if object_id == "o9":
                m[:] = 0
                flags.append("empty_mask")
            object_masks[object_id] = m
            rle = masks.encode(m)
            object_records.append(
                ObjectRecord(
                    object_id=object_id,
                    category=category,
                    category_id=CATEGORY_IDS[category],
                    bbox=masks.bbox(rle),
                    mask=rle,
                    area=masks.area(rle),
                    flags=flags,
                )
            )
        cats = dict(objects)
        expression_records: list[ExpressionRecord] = []
        for sample_id, ref_key, text, object_ids in expressions:
            if single_only and len(object_ids) != 1:
                continue
            union = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
            for oid in object_ids:
                union |= object_masks[oid]
            rle = masks.encode(union)
            target_type = (
                "none" if not object_ids else "single" if len(object_ids) == 1 else "multi"
            )
            flags = ["empty_mask"] if object_ids and not union.any() else []
            expression_records.append(
                ExpressionRecord(
                    sample_id=sample_id,
                    text=text,
                    target_type=target_type,  # type: ignore[arg-type]
                    ref_key=ref_key,
                    object_ids=list(object_ids),
                    categories=sorted({cats[o] for o in object_ids}),
                    mask=rle,
                    area=masks.area(rle),
                    provenance=Provenance(
                        file="refs(unc).p", ref_ids=[ref_key], sent_ids=[sample_id]
                    ),
                    language=detect_language(text),
                    flags=flags,
                )
            )
        records.append(
            ImageRecord(
                image_id=image_id,
                split=split,
                file_name=file_name,
                source=root / file_name,
                width=WIDTH,
                height=HEIGHT,
                objects=object_records,
                expressions=expression_records,
                size_bytes=len(data),
            )
        )
    return records


def card(name: str = "tiny") -> CardInfo:
    """Card facts of the fixture dataset."""
    return CardInfo(
        name=name,
        title="Tiny interop fixture",
        licence="CC-BY-4.0",
        citation="@misc{tiny, title={Tiny}}",
        homepage="https://example.org/tiny",
        description="A generated dataset for tests.",
        protocol="native",
    )


def write_built(
    tmp_path: Path,
    name: str = "tiny",
    seed: int = 0,
    max_shard_bytes: int | None = None,
    single_only: bool = False,
) -> Path:
    """Write the raw images and a built dataset; return the build folder ``tmp_path/built/<name>``."""
    raw = tmp_path / "raw" / name
    records = make_records(raw, seed, single_only)
    inputs = BuildInputs(
        dataset=name,
        builder="test",
        builder_version="1",
        card=card(name),
        raw_files={},
        options={},
    )
    kwargs = {} if max_shard_bytes is None else {"max_shard_bytes": max_shard_bytes}
    return write_dataset(tmp_path / "built" / name, records, inputs, Report(name), **kwargs)


def expected_masks(tmp_path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """Every expression's mask by sample id, recomputed from the generator."""
    records = make_records(tmp_path / "expected-raw", seed)
    return {e.sample_id: masks.decode(e.mask) for r in records for e in r.expressions}
