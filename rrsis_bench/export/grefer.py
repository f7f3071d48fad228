"""Export to the gRefCOCO layout that ``G_REFER`` and ReLA read (multi- and no-target faithful).

Layout written under the export folder (``--as grefcoco`` gives the names ReLA hard-codes)::

    <name>/grefs(unc).json    list of refs: {ref_id, ann_id: [ids] | [-1], category_id: [ids],
                              image_id, split, file_name, sent_ids, no_target,
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
)
from rrsis_bench.export.refer import finish_export, instances, ref_entry, referent_annotation


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
                referent_annotation(plan, doc, img, ref, ann_id, category, mode, reason, seg_counts)
                ann_ids, category_ids = [ann_id], [plan.category_id(category)]
        entry = ref_entry(plan, ref, img, split, ann_ids, category_ids, c, sent_to_sample)
        entry["no_target"] = ref.target_type == "none"  # gRefCOCO's refs carry it too
        refs.append(entry)
    refs_bytes = json.dumps(refs).encode("utf-8")
    return finish_export(
        plan,
        result,
        root,
        name,
        image_dir,
        "grefs(unc).json",
        refs_bytes,
        doc,
        seg_counts,
        sent_to_sample,
        split_names,
    )
