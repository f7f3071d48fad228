"""NWPU-Refer (Yang et al., 2025): 15,003 images, 49,745 targets; single, multi and no target.

The release is a Baidu archive without a format description. What the builder expects comes
from two independent third-party loaders (research notes §3) and is *checked on the data*;
anything else stops the build with an :class:`~rrsis_bench.errors.AssumptionError` naming
the assumption, the file, what was found and the first offending records:

* files at the release root: ``new_refs(unc).p`` or ``refs(unc).p``, ``new_instances.json`` or
  ``instances.json`` (both names are seen in the loaders); images under ``image/image/``,
  ``image/`` or the root (``--raw`` may name the release folder or the one above it);
* refs are REFER refs (``ref_id``, ``image_id``, ``ann_id``, ``split``, ``sentences``);
  ``ann_id`` is an id or a list of ids; ``split`` is train, val or test;
* ``instances.json`` lists ``categories`` with names (``no target`` among them, which marks
  expressions that refer to nothing); every segmentation is polygons, RLE (compressed or not)
  or empty.

Refs sharing (image, normalised sentence, split) are one expression whose objects are the
union of their annotations: ``multi`` with several objects, ``none`` when the annotations are
``no target``, else ``single`` (an empty mask on a targeted ref stays targeted, flagged
``empty_mask``). Sentences are English and Chinese; each expression is tagged ``en``, ``zh`` or
``mixed``. Polygons are rasterised with pycocotools at the image file's real size after being
checked and, where possible, repaired with shapely (``polygon_repaired``, ``polygon_invalid``,
``polygon_clipped``). Counts are compared with the published 15,003 images and 49,745 targets.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

from rrsis_bench.builders.base import BuildContext
from rrsis_bench.builders.refer import ReferBuilder
from rrsis_bench.builders.refer_layout import ReferFiles, ReferLayout
from rrsis_bench.builders.refer_parse import Instances, RawRef
from rrsis_bench.builders.segmentation import segmentation_kind
from rrsis_bench.errors import AssumptionError
from rrsis_bench.registry import DatasetSpec, register
from rrsis_bench.schema import ImageRecord

PUBLISHED_IMAGES = 15_003
PUBLISHED_TARGETS = 49_745

CITATION = """@article{yang2025nwpurefer,
  title   = {A Large-Scale Referring Remote Sensing Image Segmentation Dataset and Benchmark},
  author  = {Yang, Zhigang and Yao, Huiguang and Tian, Linmao and Zhao, Xuezhi and Li, Qiang and
             Wang, Qi},
  journal = {arXiv preprint arXiv:2506.03583},
  year    = {2025}
}"""


class NWPUReferBuilder(ReferBuilder):
    """Builds NWPU-Refer (see the module docstring); grouping is on by default."""

    name: ClassVar[str] = "nwpu-refer"
    files: ClassVar[ReferFiles] = ReferFiles(
        name="",
        refs=("new_refs({split_by}).p", "refs({split_by}).p"),
        instances=("new_instances.json", "instances.json"),
        image_dirs=("image/image", "image", "images", "JPEGImages", ""),
        image_archives=("image.zip",),
    )
    group_default: ClassVar[bool] = True
    no_target_categories: ClassVar[tuple[str, ...]] = ("no target", "no_target", "no-target")

    def check_release(
        self, refs: list[RawRef], instances: Instances, layout: ReferLayout, ctx: BuildContext
    ) -> None:
        """Check the assumptions about categories and segmentation kinds on the whole file."""
        if not instances.categories:
            raise AssumptionError(
                "instances.json lists categories with ids and names (needed to recognise "
                "`no target`)",
                layout.instances,
                "no usable 'categories' list",
            )
        unknown = [
            a
            for a in instances.annotations.values()
            if segmentation_kind(a.segmentation) == "unknown"
        ]
        if unknown:
            raise AssumptionError(
                "every segmentation is polygons, RLE or empty",
                layout.instances,
                f"{len(unknown):,} annotations with another segmentation",
                [
                    f"annotation {a.ann_id}: {type(a.segmentation).__name__} "
                    f"{str(a.segmentation)[:60]!r}"
                    for a in unknown[:3]
                ],
            )
        kinds = Counter(segmentation_kind(a.segmentation) for a in instances.annotations.values())
        layout.notes.append(
            "segmentation kinds in instances.json: "
            + ", ".join(f"{k} {n:,}" for k, n in kinds.most_common())
        )
        scalar = sum(1 for r in refs if len(r.ann_ids) == 1)
        layout.notes.append(
            f"ann_id: scalar in {scalar:,} refs, a list in {len(refs) - scalar:,} refs"
        )
        names = Counter(
            instances.categories.get(a.category_id, "?")
            for a in instances.annotations.values()
            if a.category_id is not None
        )
        no_target = sum(n for c, n in names.items() if c.strip().lower() in self._no_target())
        layout.notes.append(f"`no target` annotations: {no_target:,}")

    def _no_target(self) -> set[str]:
        return {c.lower() for c in self.no_target_categories}

    def finish(
        self,
        ctx: BuildContext,
        layout: ReferLayout,
        records: list[ImageRecord],
        refs: list[RawRef],
        instances: Instances,
    ) -> None:
        """Compare image and target totals with the published ones."""
        images = {r.image_id for r in records}
        targets = {o.object_id for r in records for o in r.objects}
        ctx.report.compare_counts(
            {"images": len(images), "targets": len(targets)},
            {"images": PUBLISHED_IMAGES, "targets": PUBLISHED_TARGETS},
            "totals",
        )


SPEC = register(
    DatasetSpec(
        name="nwpu-refer",
        title="NWPU-Refer",
        builder=NWPUReferBuilder,
        licence="unknown",
        redistributable=False,
        citation=CITATION,
        homepage="https://github.com/CVer-Yang/NWPU-Refer",
        download=(
            "Baidu Netdisk https://pan.baidu.com/s/1HzLVXSqk_m4zWWJ-EJ5SkA (extraction code "
            "NWPU), linked from the repository README. Extract it and pass the folder holding "
            "new_refs(unc).p as --raw."
        ),
        layout=(
            "new_refs(unc).p (or refs(unc).p)\nnew_instances.json (or instances.json)\n"
            "image/image/*.jpg (or image/*.jpg, or beside the annotation files)"
        ),
        published_counts={},
        published_unit="expressions",
        description=(
            "NWPU-Refer: 15,003 high-resolution images (1024–2048 px) from more than 30 "
            "countries with 49,745 annotated targets over 32 categories, in English and "
            "Chinese; expressions refer to one object, several objects or nothing."
        ),
        protocol=(
            "The paper's evaluation protocol and split sizes are not confirmed here. Score "
            "single/multi expressions with mIoU/oIoU and no-target expressions by whether an "
            "empty mask is predicted (gRefCOCO-style N-acc), and state the protocol."
        ),
        extra_counts={"images": PUBLISHED_IMAGES, "targets": PUBLISHED_TARGETS},
        aliases=("nwpu", "nwpurefer", "nwpu_refer"),
    )
)
