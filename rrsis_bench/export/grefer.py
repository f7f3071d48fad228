"""Export to the gRefCOCO layout that ``G_REFER`` and ReLA read (multi- and no-target faithful).

Layout written under the export folder (``--as grefcoco`` gives the names ReLA hard-codes)::

    <name>/grefs(unc).json    list of refs: {ref_id, ann_id: [ids] | [-1], category_id: [ids],
                              image_id, split, file_name, sent_ids,
                              sentences: [{raw, sent, sent_id, tokens}]}
    <name>/instances.json     COCO images / annotations / categories (one annotation per object)
    <image_dir>/<file>        the image files, bytes unchanged (G_REFER: images/train2014)

A multi-target referent lists every object's annotation id, so ``getMaskByRef(merge=True)`` is
the union of the objects, which is the expression's mask; a no-target referent has
``ann_id == [-1]`` (``getMaskByRef`` returns ``empty: True``). Where the expression's mask is not
the union of its objects (or a source has no objects) the mask gets an annotation of its own.

Segmentations are written as polygons by default, because ReLA's detectron2 loader and mapper
only take polygons: each mask becomes non-overlapping pixel-edge rectangles, which rasterise back
to the exact mask (holes included). ``mode="rle"`` writes ``[RLE]`` instead (G_REFER's ``getMask``
reads both). An empty mask has no rectangle and is written as one zero-area triangle, which
rasterises to an empty mask and which ReLA's polygon filter keeps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rrsis_bench import masks
from rrsis_bench.export.common import (
    ExportPlan,
    ExportResult,
    count_images,
    export_notes,
    instance_annotation,
    segmentation,
    write_images,
)
from rrsis_bench.export.refer import instances, sentences


def write_grefer(
    plan: ExportPlan,
    root: Path,
    name: str,
    image_dir: str,
    *,
    mode: str = "polygon",
    split_names: Mapping[str, str] | None = None,
) -> ExportResult:
    """Write the gRefCOCO files for every split of ``plan`` under ``root`` (see the module doc)."""
    split_names = dict(split_names or {})
    result = ExportResult(path=root, format="grefer", name=name)
    seg_counts: dict[str, int] = {}
    doc, index = instances(plan, plan.images, mode, seg_counts)
    new_ids = plan.next_ann_id()
    images = {img.index: img for img in plan.images}
    refs: list[dict[str, Any]] = []
    sent_to_sample: dict[int, str] = {}
    for ref in plan.referents:
        split = split_names.get(ref.split, ref.split)
        c = result.counts.setdefault(split, {"images": 0, "refs": 0, "sentences": 0})
        img = images[ref.image]
        objects = {o["object_id"]: o for o in img.objects}
        if ref.target_type == "none":
            ann_ids, category_ids = [-1], []
        else:
            found = [objects[o] for o in ref.object_ids if o in objects]
            union_counts = None
            if found and len(found) == len(ref.object_ids):
                try:
                    union_counts = masks.union([o["mask"] for o in found])["counts"]
                except ValueError:  # objects of different sizes
                    union_counts = None
            if union_counts == ref.rle["counts"]:
                ann_ids = [index[(img.index, o["object_id"])] for o in found]
                category_ids = sorted({plan.category_id(o["category"]) for o in found})
            else:
                ann_id = next(new_ids)
                category = found[0]["category"] if found else (ref.categories or ("object",))[0]
                reason = "mask_not_an_object" if img.objects else "mask_without_objects"
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
                ann_ids, category_ids = [ann_id], [plan.category_id(category)]
        sents = sentences(plan, ref.sample_ids, ref.texts)
        for s, sid in zip(sents, ref.sample_ids, strict=True):
            sent_to_sample[s["sent_id"]] = sid
        refs.append(
            {
                "ref_id": plan.ref_ids[ref.key],
                "ann_id": ann_ids,
                "category_id": category_ids,
                "image_id": plan.image_ids[img.image_id],
                "split": split,
                "file_name": plan.export_names[img.file_name],
                "sent_ids": [s["sent_id"] for s in sents],
                "sentences": sents,
            }
        )
        c["refs"] += 1
        c["sentences"] += len(sents)
    count_images(plan, result, split_names)
    result.annotations = len(doc["annotations"])
    data_dir = root / name
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "grefs(unc).json").write_text(json.dumps(refs), encoding="utf-8")
    (data_dir / "instances.json").write_text(json.dumps(doc), encoding="utf-8")
    write_images(plan, plan.images, root / image_dir)
    result.files = [f"{name}/grefs(unc).json", f"{name}/instances.json", f"{image_dir}/"]
    result.notes.extend(export_notes(seg_counts, result.skipped))
    result.sent_id_to_sample_id = sent_to_sample
    return result
