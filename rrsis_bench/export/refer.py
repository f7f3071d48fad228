"""Export to the REFER layout that LAVT, RMSIN and FIANet read (``refs(unc).p`` + ``instances.json``).

Layout written under the export folder (``<name>`` and the image folder are what the reader
hard-codes; ``--as rrsisd`` gives RMSIN's ``rrsisd`` and ``images/rrsisd/JPEGImages``)::

    <name>/refs(unc).p        pickle (protocol 2, plain builtins) of a list of refs:
                              {ref_id, ann_id, category_id, image_id, split, file_name,
                               sent_ids, sentences: [{raw, sent, sent_id, tokens}]}
    <name>/instances.json     COCO images / annotations / categories; each annotation has
                              category_id, bbox [x, y, w, h], area, iscrowd 0 and a
                              segmentation that is a list holding one compressed RLE (string
                              counts), the form REFER ``getMask`` decodes exactly
    <image_dir>/<file>        the image files, bytes unchanged

A ref is one referent: the expressions of one image sharing a ``ref_key`` and a mask. REFER has
one annotation per ref, so a multi-target referent is written as one extra annotation holding
the union mask (as is a mask that is no single object, e.g. RefSegRS). No-target expressions
cannot be written in REFER and are left out; the result counts them.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rrsis_bench import masks
from rrsis_bench.export.common import (
    ExportPlan,
    ExportResult,
    ImageInfo,
    count_images,
    export_notes,
    instance_annotation,
    segmentation,
    tokens,
    write_images,
)

PICKLE_PROTOCOL = 2
"""Readable by the Python 2 REFER code as well as by every Python 3 port."""


def instances(
    plan: ExportPlan, images: list[ImageInfo], mode: str, counts: dict[str, int]
) -> tuple[dict[str, Any], dict[tuple[int, str], int]]:
    """COCO ``instances`` of the objects of ``images``; also returns (image, object_id) -> ann id."""
    anns: list[dict[str, Any]] = []
    index: dict[tuple[int, str], int] = {}
    for img in images:
        for o in img.objects:
            ann_id = plan.object_ann_id(img, o["object_id"])
            index[(img.index, o["object_id"])] = ann_id
            anns.append(
                instance_annotation(
                    ann_id,
                    plan.image_ids[img.image_id],
                    plan.category_id(o["category"]),
                    o["mask"],
                    o["bbox"],
                    segmentation(o["mask"], mode, img, counts),
                )
            )
    doc = {
        "info": {"description": "exported by rrsis-bench", "version": "1.0"},
        "licenses": [],
        "images": [
            {
                "id": plan.image_ids[img.image_id],
                "file_name": plan.export_names[img.file_name],
                "width": img.width,
                "height": img.height,
            }
            for img in images
        ],
        "annotations": anns,
        "categories": [
            {"id": cid, "name": name, "supercategory": name}
            for name, cid in sorted(plan.categories.items(), key=lambda kv: kv[1])
        ],
    }
    return doc, index


def sentences(plan: ExportPlan, sample_ids: list[str], texts: list[str]) -> list[dict[str, Any]]:
    """REFER ``sentences`` entries of one ref."""
    return [
        {
            "raw": text,
            "sent": " ".join(tokens(text)),
            "sent_id": plan.sent_ids[sid],
            "tokens": tokens(text),
        }
        for sid, text in zip(sample_ids, texts, strict=True)
    ]


def write_refer(
    plan: ExportPlan,
    root: Path,
    name: str,
    image_dir: str,
    *,
    mode: str = "rle",
    split_names: Mapping[str, str] | None = None,
) -> ExportResult:
    """Write the REFER files for every split of ``plan`` under ``root`` (see the module doc)."""
    split_names = dict(split_names or {})
    result = ExportResult(path=root, format="refer", name=name)
    seg_counts: dict[str, int] = {}
    doc, index = instances(plan, plan.images, mode, seg_counts)
    new_ids = plan.next_ann_id()
    images = {img.index: img for img in plan.images}
    refs: list[dict[str, Any]] = []
    sent_to_sample: dict[int, str] = {}
    for ref in plan.referents:
        split = split_names.get(ref.split, ref.split)
        c = result.counts.setdefault(split, {"images": 0, "refs": 0, "sentences": 0})
        if ref.target_type == "none":
            result.skipped["no_target"] = result.skipped.get("no_target", 0) + len(ref.sample_ids)
            continue
        img = images[ref.image]
        obj_masks = {o["object_id"]: o for o in img.objects}
        single = (
            len(ref.object_ids) == 1
            and ref.object_ids[0] in obj_masks
            and obj_masks[ref.object_ids[0]]["mask"]["counts"] == ref.rle["counts"]
        )
        if single:
            ann_id = index[(img.index, ref.object_ids[0])]
            category = obj_masks[ref.object_ids[0]]["category"]
        else:
            ann_id = next(new_ids)
            first = obj_masks.get(ref.object_ids[0]) if ref.object_ids else None
            category = first["category"] if first else (ref.categories or ("object",))[0]
            if ref.target_type == "multi":
                reason = "multi_target_as_union"
            elif not img.objects:
                reason = "mask_without_objects"
            else:
                reason = "mask_not_an_object"
            referent_annotation(plan, doc, img, ref, ann_id, category, mode, reason, seg_counts)
        refs.append(
            ref_entry(plan, ref, img, split, ann_id, plan.category_id(category), c, sent_to_sample)
        )
    refs_bytes = pickle.dumps(refs, protocol=PICKLE_PROTOCOL)
    return finish_export(
        plan,
        result,
        root,
        name,
        image_dir,
        "refs(unc).p",
        refs_bytes,
        doc,
        seg_counts,
        sent_to_sample,
        split_names,
    )


def referent_annotation(
    plan: ExportPlan,
    doc: dict[str, Any],
    img: ImageInfo,
    ref: Any,
    ann_id: int,
    category: str,
    mode: str,
    reason: str,
    seg_counts: dict[str, int],
) -> None:
    """Add an annotation holding the referent's own mask (counted under ``reason``)."""
    seg_counts[reason] = seg_counts.get(reason, 0) + 1
    doc["annotations"].append(
        instance_annotation(
            ann_id,
            plan.image_ids[img.image_id],
            plan.category_id(category),
            ref.rle,
            masks.bbox(ref.rle),
            segmentation(ref.rle, mode, img, seg_counts),
        )
    )


def ref_entry(
    plan: ExportPlan,
    ref: Any,
    img: ImageInfo,
    split: str,
    ann_id: Any,
    category_id: Any,
    counts: dict[str, int],
    sent_to_sample: dict[int, str],
) -> dict[str, Any]:
    """One ref record with its sentences; updates the split's counts and the sent-id map."""
    sents = sentences(plan, ref.sample_ids, ref.texts)
    for s, sid in zip(sents, ref.sample_ids, strict=True):
        sent_to_sample[s["sent_id"]] = sid
    counts["refs"] += 1
    counts["sentences"] += len(sents)
    return {
        "ref_id": plan.ref_ids[ref.key],
        "ann_id": ann_id,
        "category_id": category_id,
        "image_id": plan.image_ids[img.image_id],
        "split": split,
        "file_name": plan.export_names[img.file_name],
        "sent_ids": [s["sent_id"] for s in sents],
        "sentences": sents,
    }


def finish_export(
    plan: ExportPlan,
    result: ExportResult,
    root: Path,
    name: str,
    image_dir: str,
    refs_file: str,
    refs_bytes: bytes,
    doc: dict[str, Any],
    seg_counts: dict[str, int],
    sent_to_sample: dict[int, str],
    split_names: Mapping[str, str],
) -> ExportResult:
    """Write the refs file, ``instances.json`` and the images; complete ``result``."""
    count_images(plan, result, split_names)
    result.annotations = len(doc["annotations"])
    data_dir = root / name
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / refs_file).write_bytes(refs_bytes)
    (data_dir / "instances.json").write_text(json.dumps(doc), encoding="utf-8")
    write_images(plan, plan.images, root / image_dir)
    result.files = [f"{name}/{refs_file}", f"{name}/instances.json", f"{image_dir}/"]
    result.notes.extend(export_notes(seg_counts, result.skipped))
    result.sent_id_to_sample_id = sent_to_sample
    return result
