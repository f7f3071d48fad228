"""Seeded generators of tiny built datasets and predictions for the scoring tests.

`write_gt_dataset` writes a real built dataset (parquet shards, manifest) with
`rrsis_bench.store.write_dataset` from `GtCase`s; `edge_cases` returns the ground truth and
predictions of every edge case the metric tests cover.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from rrsis_bench import masks
from rrsis_bench.card import CardInfo
from rrsis_bench.schema import ExpressionRecord, ImageRecord, Provenance
from rrsis_bench.store import BuildInputs, write_dataset
from rrsis_bench.validate import Report


@dataclass
class GtCase:
    sample_id: str
    mask: np.ndarray
    target_type: str = "single"
    categories: tuple[str, ...] = ("vehicle",)
    split: str = "test"
    image_id: str | None = None
    ref_key: str | None = None
    flags: tuple[str, ...] = ()
    image_size: tuple[int, int] | None = None  # (h, w) when it differs from the mask


@dataclass
class PredCase:
    sample_id: str
    mask: np.ndarray | None
    no_target: bool | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"sample_id": self.sample_id, "mask": self.mask}
        if self.no_target is not None:
            item["no_target"] = self.no_target
        return item


def write_gt_dataset(out: Path, cases: list[GtCase], name: str = "toy-scoring") -> Path:
    """Write a built dataset holding exactly `cases` (one image per image_id)."""
    img_dir = out.parent / f"{out.name}-images"
    img_dir.mkdir(parents=True, exist_ok=True)
    by_image: dict[tuple[str, str], list[GtCase]] = {}
    for c in cases:
        by_image.setdefault((c.split, c.image_id or c.sample_id), []).append(c)
    records = []
    for (split, image_id), group in by_image.items():
        h, w = group[0].image_size or group[0].mask.shape
        src = img_dir / f"{split}-{image_id}.png"
        Image.new("L", (w, h), 90).save(src)
        exprs = []
        for c in group:
            rle = masks.encode(c.mask)
            exprs.append(
                ExpressionRecord(
                    sample_id=c.sample_id,
                    text=f"the thing {c.sample_id}",
                    target_type=c.target_type,  # type: ignore[arg-type]
                    ref_key=c.ref_key or c.sample_id,
                    object_ids=[] if c.target_type == "none" else [f"o{c.sample_id}"],
                    categories=list(c.categories),
                    mask=rle,
                    area=masks.area(rle),
                    provenance=Provenance(file="refs.json"),
                    flags=list(c.flags),
                )
            )
        records.append(
            ImageRecord(
                image_id=image_id,
                split=split,
                file_name=src.name,
                source=src,
                width=w,
                height=h,
                expressions=exprs,
                size_bytes=src.stat().st_size,
            )
        )
    card = CardInfo(name, "Toy scoring set", "CC-BY-4.0", "@misc{toy}", "", "tests", "native")
    inputs = BuildInputs(name, "toy", "1", card, {}, {})
    return write_dataset(out, records, inputs, Report(name), progress=False)


def rewrite_mask(ds: Path, split: str, sample_id: str, mask: np.ndarray) -> Path:
    """Replace one ground-truth mask inside a shard, as a hand edit of a build would."""
    shard = next((ds / "data").glob(f"{split}-*.parquet"))
    table = pq.read_table(shard)
    rows = table.to_pylist()
    for row in rows:
        for e in row["expressions"]:
            if e["sample_id"] == sample_id:
                e["mask"] = masks.encode(mask)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), shard)
    return shard


def _box(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), dtype=np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def edge_cases(seed: int = 0) -> tuple[list[GtCase], list[PredCase]]:
    """Every edge case of the metric tests, with masks of several sizes.

    Sample ids: ``exact``, ``empty-pred``, ``nt-empty``, ``nt-fp``, ``nt-flag-fp`` (explicit
    no_target on a no-target sample with stray pixels), ``tgt-flag-nt`` (a perfect mask with
    an explicit no_target: true), ``nt-flag-false`` (no_target: false with an empty mask on a
    no-target sample), ``thr-0.5`` … ``thr-0.9`` (IoU exactly at each threshold), ``tiny-hit``,
    ``tiny-miss``, ``components``, ``multi``, ``union0`` (empty targeted GT, empty prediction),
    ``union0-fp`` and ``rand-0`` … ``rand-5`` (random blobs on random sizes).
    """
    rng = np.random.default_rng(seed)
    gts: list[GtCase] = []
    preds: list[PredCase] = []

    def add(
        sid: str, gt: np.ndarray, pred: np.ndarray | None, nt: bool | None = None, **kw: Any
    ) -> None:
        gts.append(GtCase(sid, gt, **kw))
        preds.append(PredCase(sid, pred, nt))

    g = _box(40, 50, 5, 25, 10, 30)
    add("exact", g, g.copy())
    add("empty-pred", _box(30, 30, 2, 12, 2, 12), np.zeros((30, 30), np.uint8))
    z = np.zeros((24, 32), np.uint8)
    add("nt-empty", z, z.copy(), target_type="none", categories=())
    add("nt-fp", z, _box(24, 32, 0, 3, 0, 3), target_type="none", categories=())
    add("nt-flag-fp", z, _box(24, 32, 0, 2, 0, 2), True, target_type="none", categories=())
    add("nt-flag-false", z, z.copy(), False, target_type="none", categories=())
    t = _box(36, 36, 4, 14, 4, 14)
    add("tgt-flag-nt", t, t.copy(), True)
    for k, thr in enumerate((5, 6, 7, 8, 9)):
        gt = np.zeros((20, 20), np.uint8)
        gt[0, :10] = 1  # |G| = 10
        pred = np.zeros((20, 20), np.uint8)
        pred[0, :thr] = 1  # I = thr, U = 10
        add(f"thr-0.{thr}", gt, pred, categories=("building",) if k % 2 else ("vehicle",))
    big = _box(64, 64, 0, 0, 0, 0)
    big[30, 30] = 1
    add("tiny-hit", big, big.copy(), categories=("ship",))
    add("tiny-miss", big.copy(), _box(64, 64, 31, 32, 31, 32), categories=("ship",))
    comp = _box(48, 40, 2, 8, 2, 8) | _box(48, 40, 30, 40, 20, 36)
    add("components", comp, _box(48, 40, 2, 8, 2, 6) | _box(48, 40, 28, 40, 22, 36))
    multi = _box(30, 44, 1, 9, 1, 9) | _box(30, 44, 15, 29, 25, 43)
    add("multi", multi, multi[:, ::-1].copy(), target_type="multi", categories=("vehicle", "ship"))
    e = np.zeros((16, 16), np.uint8)
    add("union0", e, e.copy(), flags=("empty_mask",), categories=("building",))
    add("union0-fp", e.copy(), _box(16, 16, 0, 4, 0, 4), flags=("empty_mask",))
    for k in range(6):
        h, w = (int(v) for v in rng.integers(8, 70, size=2))
        gt = (rng.random((h, w)) < rng.uniform(0.05, 0.6)).astype(np.uint8)
        pred = (rng.random((h, w)) < rng.uniform(0.05, 0.6)).astype(np.uint8)
        add(f"rand-{k}", gt, pred, categories=(("vehicle", "building", "ship")[k % 3],))
    return gts, preds
