"""Annotations of a REFER release turned into format-v1 objects.

Segmentations are decoded at the image's real size (in ``num_proc`` processes when there are
many), areas recomputed from the masks, boxes converted after the release's box convention is
decided from the data, and every per-annotation defect flagged and reported.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rrsis_bench import masks
from rrsis_bench.builders.refer_boxes import BoxDecision, decide_bbox_format, to_xywh
from rrsis_bench.builders.refer_parse import RawAnnotation
from rrsis_bench.builders.segmentation import SegmentationError, segmentation_kind, to_rle
from rrsis_bench.progress import track
from rrsis_bench.schema import ObjectRecord, Rle
from rrsis_bench.validate import Report


@dataclass
class DecodedAnnotation:
    """One annotation's mask and what decoding found."""

    ann_id: str
    rle: Rle
    kind: str
    area: int
    extent: list[float]
    flags: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _decode_job(
    args: tuple[str, Any, int, int, bool, bool],
) -> DecodedAnnotation | tuple[str, str]:
    ann_id, seg, height, width, repair, check_rle = args
    try:
        d = to_rle(seg, height, width, repair=repair, check_rle=check_rle)
    except SegmentationError as exc:
        return ann_id, str(exc)
    except (ValueError, TypeError, OverflowError) as exc:
        return ann_id, f"cannot decode the segmentation ({exc})"
    return DecodedAnnotation(
        ann_id, d.rle, d.kind, masks.area(d.rle), masks.bbox(d.rle), d.flags, d.problems
    )


def _compressed_rles(seg: Any) -> list[Any]:
    kind = segmentation_kind(seg)
    if kind == "rle":
        return [seg]
    if kind == "rle_list":
        return [s for s in seg if not isinstance(s["counts"], list)]
    return []


POOL_MIN_POLYGON_JOBS = 200
"""Polygon rasterising goes to worker processes from this many annotations on (RLE is cheap)."""


def decode_annotations(
    jobs: Sequence[tuple[str, Any, int, int, bool]],
    num_proc: int = 1,
    progress: bool | None = None,
) -> list[DecodedAnnotation | tuple[str, str]]:
    """Decode ``(ann_id, segmentation, height, width, repair)`` jobs, in order.

    Compressed RLEs are checked together in one vectorised pass first; polygons are
    rasterised in ``num_proc`` processes when there are many. Each result is a
    :class:`DecodedAnnotation` or ``(ann_id, why it failed)``.
    """
    per_job = [_compressed_rles(j[1]) for j in jobs]
    flat = [r for rles in per_job for r in rles]
    valid = masks.are_valid(flat) if flat else np.zeros(0, dtype=bool)
    full: list[tuple[str, Any, int, int, bool, bool]] = []
    pos = 0
    for job, rles in zip(jobs, per_job, strict=True):
        checked_ok = bool(rles) and all(valid[pos : pos + len(rles)])
        pos += len(rles)
        full.append((*job, not checked_ok))
    heavy = sum(1 for j in jobs if segmentation_kind(j[1]) == "polygons")
    if num_proc > 1 and heavy >= POOL_MIN_POLYGON_JOBS:
        chunk = max(16, len(full) // (num_proc * 16))
        with ProcessPoolExecutor(max_workers=num_proc) as pool:
            return list(
                track(
                    pool.map(_decode_job, full, chunksize=chunk),
                    "decoding masks",
                    len(full),
                    progress,
                )
            )
    return [_decode_job(j) for j in track(full, "decoding masks", len(full), progress)]


@dataclass
class ObjectContext:
    """What building objects needs to know about the release."""

    categories: dict[int, str]
    no_target: frozenset[str]  # lower-case category names meaning "refers to nothing"
    image_size: dict[str, tuple[int, int]]  # image_id -> (height, width)
    ref_category: dict[str, int]  # ann_id -> category_id given by a ref


@dataclass
class BuiltObjects:
    """Objects by annotation id, and the annotations that are ``no target`` pseudo-objects."""

    objects: dict[str, ObjectRecord]
    no_target: dict[str, DecodedAnnotation]
    decision: BoxDecision


def category_of(
    ann: RawAnnotation, octx: ObjectContext, report: Report, unknown: set[int]
) -> tuple[int, str]:
    """The annotation's category id and name (from the annotation, else from its ref)."""
    cid = ann.category_id
    if cid is None:
        cid = octx.ref_category.get(ann.ann_id, -1)
    name = octx.categories.get(cid)
    if name is None:
        if cid not in unknown and octx.categories:
            unknown.add(cid)
            report.add(
                "category-unknown",
                f"category id {cid} (annotation {ann.ann_id}) is not in the categories list",
                image_id=ann.image_id,
            )
        name = "unknown" if cid == -1 else str(cid)
    return cid, name


def build_objects(
    anns: Iterable[RawAnnotation],
    decoded: dict[str, DecodedAnnotation],
    octx: ObjectContext,
    report: Report,
    bbox_format: str = "auto",
) -> BuiltObjects:
    """Turn decoded annotations into objects, flagging and reporting every defect."""
    anns = [a for a in anns if a.ann_id in decoded]
    samples = []
    for a in anns:
        d = decoded[a.ann_id]
        if a.bbox is not None and d.area > 0:
            h, w = octx.image_size[a.image_id]
            samples.append((a.bbox, d.extent, h, w))
    decision = decide_bbox_format(samples, bbox_format)
    objects: dict[str, ObjectRecord] = {}
    no_target: dict[str, DecodedAnnotation] = {}
    unknown: set[int] = set()
    area_wrong: list[str] = []
    with_area = 0
    for a in anns:
        d = decoded[a.ann_id]
        cid, name = category_of(a, octx, report, unknown)
        if name.strip().lower() in octx.no_target:
            no_target[a.ann_id] = d
            if d.area > 0:
                report.add(
                    "no-target-nonempty",
                    f"`{name}` annotation {a.ann_id} has a {d.area:,} px mask; ignored",
                    image_id=a.image_id,
                )
            continue
        h, w = octx.image_size[a.image_id]
        flags = list(d.flags)
        where: dict[str, Any] = {"image_id": a.image_id}
        if d.problems:
            report.add(
                "polygon-invalid",
                f"annotation {a.ann_id}: " + "; ".join(d.problems),
                **where,
            )
        if a.area is not None:
            with_area += 1
            if round(a.area) != d.area:
                flags.append("area_recomputed")
                shown = f"{int(a.area):,}" if float(a.area).is_integer() else f"{a.area:g}"
                area_wrong.append(f"annotation {a.ann_id}: area {shown}, mask {d.area:,} px")
        if tuple(d.rle["size"]) != (h, w):
            flags.append("size_mismatch")
            report.add(
                "mask-size-mismatch",
                f"annotation {a.ann_id}: mask {d.rle['size'][0]}×{d.rle['size'][1]}, image "
                f"{h}×{w} (height×width); kept as the source has it",
                **where,
            )
        if d.area == 0:
            flags.append("empty_mask")
            report.add("target-empty", f"annotation {a.ann_id} ({name}) has an empty mask", **where)
        if a.bbox is None:
            bbox = list(d.extent)
            flags.append("bbox_from_mask")
        else:
            bbox = to_xywh(a.bbox, decision.format)
            if decision.format == "xyxy":
                flags.append("bbox_from_xyxy")
            x, y, bw, bh = bbox
            if x < 0 or y < 0 or bw < 0 or bh < 0 or x + bw > w or y + bh > h:
                report.add(
                    "bbox-out-of-bounds",
                    f"annotation {a.ann_id}: box {[round(v, 2) for v in a.bbox]} reaches outside "
                    f"the {w}×{h} image",
                    **where,
                )
            if d.area > 0:
                iou = masks.box_iou_xywh(bbox, d.extent)
                if iou < 0.5:
                    flags.append("bbox_mismatch")
                    report.add(
                        "bbox-mask-disagree",
                        f"annotation {a.ann_id}: box {[round(v, 2) for v in bbox]} vs mask extent "
                        f"{[round(v, 2) for v in d.extent]} (IoU {iou:.2f})",
                        **where,
                    )
        objects[a.ann_id] = ObjectRecord(
            object_id=a.ann_id,
            category=name,
            category_id=cid,
            bbox=bbox,
            mask=d.rle,
            area=d.area,
            flags=flags,
        )
    report.add("bbox-format", decision.message())
    if area_wrong:
        report.add(
            "area-field-wrong",
            f"the `area` field differs from the mask's pixel count in {len(area_wrong):,} of "
            f"{with_area:,} annotations (first: {'; '.join(area_wrong[:3])}); area recomputed",
        )
    return BuiltObjects(objects, no_target, decision)


def kinds_summary(decoded: Iterable[DecodedAnnotation]) -> str:
    """``"rle_list 12, empty 1"``: segmentation kinds found, most frequent first."""
    c = Counter(d.kind for d in decoded)
    return ", ".join(f"{k} {n:,}" for k, n in c.most_common()) or "none"
