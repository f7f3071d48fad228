"""Seeded hand-made records for testing the store without a builder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from rrsis_bench import masks
from rrsis_bench.card import CardInfo
from rrsis_bench.schema import ExpressionRecord, ImageRecord, ObjectRecord, Provenance
from rrsis_bench.store import BuildInputs

SPLIT_CYCLE = ("train", "train", "val", "test")


def make_records(
    root: Path, n: int = 8, seed: int = 0, size: tuple[int, int] = (24, 32)
) -> list[ImageRecord]:
    """``n`` JPEG images under ``root/images`` with one object and one expression each."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    h, w = size
    records = []
    for i in range(n):
        path = root / "images" / f"{i:05d}.jpg"
        pixels = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, "JPEG", quality=90)
        m = np.zeros((h, w), dtype=np.uint8)
        y, x = int(rng.integers(0, h - 4)), int(rng.integers(0, w - 4))
        m[y : y + 4, x : x + 3] = 1
        rle = masks.encode(m)
        oid = str(i)
        obj = ObjectRecord(oid, "car", 1, masks.bbox(rle), rle, masks.area(rle))
        expr = ExpressionRecord(
            sample_id=oid,
            text=f"the car number {i}",
            target_type="single",
            ref_key=oid,
            object_ids=[oid],
            categories=["car"],
            mask=rle,
            area=masks.area(rle),
            provenance=Provenance("refs(unc).p", None, [oid], [oid], [oid]),
        )
        records.append(
            ImageRecord(
                image_id=oid,
                split=SPLIT_CYCLE[i % len(SPLIT_CYCLE)],
                file_name=f"images/{path.name}",
                source=path,
                width=w,
                height=h,
                objects=[obj],
                expressions=[expr],
                size_bytes=path.stat().st_size,
            )
        )
    return records


def make_inputs(name: str = "toy") -> BuildInputs:
    return BuildInputs(
        dataset=name,
        builder=name,
        builder_version="1",
        card=CardInfo(
            name,
            "Toy",
            "CC-BY-4.0",
            "@misc{toy, title={Toy}}",
            "https://example.org",
            "A toy.",
            "native",
        ),
        raw_files={"refs(unc).p": "0" * 64},
        options={"grouping": False},
    )
