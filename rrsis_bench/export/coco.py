"""Export to COCO instances (one file per split) plus a referring-results example.

Layout written under the export folder::

    annotations/instances_<split>.json   COCO images / annotations (one per object; segmentation
                                         is a compressed RLE dict with string counts, iscrowd 0)
                                         / categories, plus a ``referring`` list: one entry per
                                         expression {sample_id, sent_id, ref_id, image_id, text,
                                         target_type, ann_ids, segmentation (the expression's
                                         mask as RLE), categories}
    annotations/results_example_<split>.json
                                         a COCO-results-style list keyed by ``sample_id`` holding
                                         the ground truth itself ({sample_id, image_id,
                                         category_id, segmentation, score: 1.0, no_target};
                                         no-target expressions have an empty mask):
                                         the format ``rrsis-bench score`` reads, and what
                                         ``pycocotools.COCO.loadRes`` accepts
    images/<split>/<file>                the image files, bytes unchanged
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rrsis_bench import masks
from rrsis_bench.export.common import (
    ExportPlan,
    ExportResult,
    instance_annotation,
    write_images,
)


def _rle(rle: Any) -> dict[str, Any]:
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"]}


def write_coco(plan: ExportPlan, root: Path) -> ExportResult:
    """Write COCO instances and a results example per split of ``plan`` (see the module doc)."""
    result = ExportResult(path=root, format="coco", name=plan.view.dataset.name)
    categories = [
        {"id": cid, "name": name, "supercategory": name}
        for name, cid in sorted(plan.categories.items(), key=lambda kv: kv[1])
    ]
    ann_dir = root / "annotations"
    ann_dir.mkdir(parents=True, exist_ok=True)
    splits = [s for s in plan.view.splits if any(i.split == s for i in plan.images)]
    for split in splits:
        images = plan.images_of([split])
        image_index = {img.index: img for img in images}
        anns: list[dict[str, Any]] = []
        for img in images:
            for o in img.objects:
                anns.append(
                    instance_annotation(
                        plan.object_ann_id(img, o["object_id"]),
                        plan.image_ids[img.image_id],
                        plan.category_id(o["category"]),
                        o["mask"],
                        o["bbox"],
                        _rle(o["mask"]),
                    )
                )
        referring: list[dict[str, Any]] = []
        results: list[dict[str, Any]] = []
        for ref in plan.referents:
            if ref.image not in image_index:
                continue
            img = image_index[ref.image]
            ann_ids = [plan.object_ann_id(img, o) for o in ref.object_ids]
            by_id = {o["object_id"]: o for o in img.objects}
            first = by_id.get(ref.object_ids[0]) if ref.object_ids else None
            category = first["category"] if first else (ref.categories or (None,))[0]
            for sid, text in zip(ref.sample_ids, ref.texts, strict=True):
                referring.append(
                    {
                        "sample_id": sid,
                        "sent_id": plan.sent_ids[sid],
                        "ref_id": plan.ref_ids[ref.key],
                        "image_id": plan.image_ids[img.image_id],
                        "text": text,
                        "target_type": ref.target_type,
                        "ann_ids": ann_ids,
                        "categories": list(ref.categories),
                        "segmentation": _rle(ref.rle),
                        "area": masks.area(ref.rle),
                    }
                )
                entry: dict[str, Any] = {
                    "sample_id": sid,
                    "image_id": plan.image_ids[img.image_id],
                    "segmentation": _rle(ref.rle),
                    "score": 1.0,
                }
                entry["no_target"] = ref.target_type == "none"
                if ref.target_type != "none":
                    entry["category_id"] = plan.category_id(category)
                results.append(entry)
                result.sent_id_to_sample_id[plan.sent_ids[sid]] = sid
        doc = {
            "info": {"description": f"{plan.view.dataset.name} {split}, exported by rrsis-bench"},
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
            "categories": categories,
            "referring": referring,
        }
        (ann_dir / f"instances_{split}.json").write_text(json.dumps(doc), encoding="utf-8")
        (ann_dir / f"results_example_{split}.json").write_text(
            json.dumps(results), encoding="utf-8"
        )
        write_images(plan, images, root / "images" / split)
        result.counts[split] = {
            "images": len(images),
            "refs": len({r["ref_id"] for r in referring}),
            "sentences": len(referring),
        }
        result.annotations += len(anns)
        result.files += [
            f"annotations/instances_{split}.json",
            f"annotations/results_example_{split}.json",
            f"images/{split}/",
        ]
    return result
