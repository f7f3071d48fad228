"""RRSIS-D (Liu et al., CVPR 2024): 17,402 image–sentence–mask triplets on DIOR images.

Raw layout (the RMSIN README; ``--raw`` may name ``DATA`` or the folder above it)::

    DATA/
    ├── rrsisd/
    │   ├── refs(unc).p          pickled list of refs (one ref and one sentence per image)
    │   └── instances.json       images, annotations (key `categories_id`), 20 DIOR categories
    └── images/rrsisd/
        ├── JPEGImages/NNNNN.jpg nominally 800×800; a few are 800×801, 801×800, 800×787
        └── ann_split/NNNNN.xml  optional DIOR-RSVG XML, cross-checked when present

The Google Drive download (``refs(unc).p``, ``instances.json``, ``JPEGImages.zip``,
``ann_split.zip`` in one folder) is accepted as it is: the archives are extracted safely into
the cache.

Known defects, all handled and reported: ``bbox`` is ``[x1, y1, x2, y2]`` (decided from the
data, converted, ``bbox_from_xyxy``); ``area`` is not the mask area (recomputed,
``area_recomputed``); a few JPEGs differ in size from their 800×800 RLE (kept,
``size_mismatch``); zero-area masks exist (kept as ``single``, ``empty_mask``). Images on the
RSRefSeg2 (3) and DiCoR (27) exclusion lists are kept and flagged ``excluded_rsrefseg2`` /
``excluded_dicor``; the lists are :data:`RSREFSEG2_EXCLUDED` and :data:`DICOR_EXCLUDED`.

Licence: none stated by the authors (``unknown``; do not redistribute).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from rrsis_bench.builders.base import BuildContext
from rrsis_bench.builders.refer import ReferBuilder
from rrsis_bench.builders.refer_expressions import clean_text
from rrsis_bench.builders.refer_layout import ReferFiles, ReferLayout
from rrsis_bench.builders.refer_parse import Instances, RawRef
from rrsis_bench.images import sha256_file
from rrsis_bench.registry import DatasetSpec, register
from rrsis_bench.schema import ImageRecord, natural_key

RSREFSEG2_EXCLUDED: tuple[str, ...] = ("22187.jpg", "20203.jpg", "00413.jpg")
"""RRSIS-D files RSRefSeg2 skips (``refseg/datasets/refdataset.py``)."""

DICOR_EXCLUDED: tuple[str, ...] = tuple(
    f"{stem}.jpg"
    for stem in (
        "22187 20203 00413 01072 01664 03661 05125 06728 06861 09319 10579 10653 11147 11898 "
        "12492 12630 14464 14915 15357 15584 15737 17068 18552 18845 20235 21126 07239"
    ).split()
)
"""RRSIS-D files DiCoR drops in every split (``data/refdataset.py``)."""

EXCLUSION_LISTS: dict[str, tuple[str, ...]] = {
    "rsrefseg2": RSREFSEG2_EXCLUDED,
    "dicor": DICOR_EXCLUDED,
}
"""Published exclusion lists by name; the flag of list ``x`` is ``excluded_x``."""

CITATION = """@inproceedings{liu2024rotated,
  title     = {Rotated Multi-Scale Interaction Network for Referring Remote Sensing Image Segmentation},
  author    = {Liu, Sihan and Ma, Yiwei and Zhang, Xiaoqing and Wang, Haowei and Ji, Jiayi and
               Sun, Xiaoshuai and Ji, Rongrong},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  pages     = {26658--26668},
  year      = {2024}
}"""


def excluded_file_names(name: str) -> tuple[str, ...]:
    """The file names of a published exclusion list (``rsrefseg2`` or ``dicor``)."""
    from rrsis_bench.errors import UnknownNameError

    if name not in EXCLUSION_LISTS:
        raise UnknownNameError("exclusion list", name, sorted(EXCLUSION_LISTS))
    return EXCLUSION_LISTS[name]


class RRSISDBuilder(ReferBuilder):
    """Builds RRSIS-D from its REFER layout (see the module docstring)."""

    name: ClassVar[str] = "rrsis-d"
    files: ClassVar[ReferFiles] = ReferFiles(
        name="rrsisd",
        ann_split_dirs=("images/{name}/ann_split", "ann_split"),
        ann_split_archives=("ann_split.zip",),
    )
    expect_equal_ids: ClassVar[bool] = True
    expect_one_sentence: ClassVar[bool] = True
    expect_one_ref_per_image: ClassVar[bool] = True

    def finish(
        self,
        ctx: BuildContext,
        layout: ReferLayout,
        records: list[ImageRecord],
        refs: list[RawRef],
        instances: Instances,
    ) -> None:
        """Flag the published exclusion lists and cross-check ``ann_split`` XML files."""
        base_names = [r.file_name.rsplit("/", 1)[-1] for r in records]
        for list_name, names in EXCLUSION_LISTS.items():
            wanted = set(names)
            hits = sorted(set(base_names) & wanted, key=natural_key)
            for rec, base_name in zip(records, base_names, strict=True):
                if base_name in wanted:
                    for e in rec.expressions:
                        e.flags.append(f"excluded_{list_name}")
            ctx.report.add(
                "excluded-list",
                f"{list_name}: {len(hits)} of its {len(names)} images are in this build and "
                f"flagged excluded_{list_name} (kept)"
                + (
                    f"; {len(names) - len(hits)} are not in this build"
                    if len(hits) < len(names)
                    else ""
                ),
            )
        if layout.ann_split_dir is None:
            ctx.report.add("layout", "no ann_split XML folder; the XML cross-check was skipped")
            return
        check_ann_split(
            ctx, layout.ann_split_dir, records, refs, instances, prefix=layout.ann_split_prefix
        )


def _text(el: ET.Element | None) -> str:
    return (el.text or "").strip() if el is not None else ""


def _xml_root(path: Path) -> ET.Element:
    data = path.read_bytes()
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValueError("holds a DOCTYPE or ENTITY declaration (refused)")
    return ET.fromstring(data)


def check_ann_split(
    ctx: BuildContext,
    folder: Path,
    records: Sequence[ImageRecord],
    refs: Sequence[RawRef],
    instances: Instances,
    *,
    prefix: str = "ann_split/",
) -> None:
    """Compare each image's ``ann_split`` XML with refs and instances (``xml-*`` findings).

    The XML object carrying a ``<segmentation>`` is the one in the refs: exactly one is
    expected; its ``<bndbox>`` must equal the instances box, its ``<description>`` the ref's
    sentence, the root's ``<split>`` the ref's split. Each XML file read is hashed into the
    manifest's ``raw_files`` as ``prefix + <name>.xml`` (``folder`` may be an extraction
    cache outside the dataset root).
    """
    report = ctx.report
    by_image = {r.image_id: r for r in refs}
    xml_names: set[str] = set()
    for rec in records:
        stem = PurePosixPath(rec.file_name).stem
        path = folder / f"{stem}.xml"
        where: dict[str, Any] = {
            "split": rec.split,
            "image_id": rec.image_id,
            "file": f"ann_split/{stem}.xml",
        }
        xml_names.add(path.name)
        if not path.is_file():
            report.add("xml-missing", f"no ann_split/{stem}.xml for {rec.file_name}", **where)
            continue
        ctx.raw_files[prefix + path.name] = sha256_file(path)
        try:
            root = _xml_root(path)
        except (ET.ParseError, ValueError, OSError) as exc:
            report.add("xml-disagrees", f"ann_split/{stem}.xml cannot be read ({exc})", **where)
            continue
        ref = by_image.get(rec.image_id)
        if ref is None:  # pragma: no cover - every record comes from a ref
            continue
        problems: list[str] = []
        split = _text(root.find("split"))
        if split and split != ref.raw_split:
            problems.append(f"split {split!r}, refs say {ref.raw_split!r}")
        segmented = [o for o in root.iter("object") if o.find("segmentation") is not None]
        if len(segmented) != 1:
            problems.append(f"{len(segmented)} objects carry a <segmentation>, one expected")
        else:
            obj = segmented[0]
            box = obj.find("bndbox")
            try:
                xml_box = [float(_text(box.find(k))) for k in ("xmin", "ymin", "xmax", "ymax")]  # type: ignore[union-attr]
            except (ValueError, AttributeError):
                xml_box = []
            ann = instances.annotations.get(ref.ann_ids[0])
            if ann is not None and ann.bbox is not None and xml_box != ann.bbox:
                problems.append(f"bndbox {xml_box}, instances.json bbox {ann.bbox}")
            desc = clean_text(_text(obj.find("description")))
            sentence = clean_text(ref.sentences[0].text) if ref.sentences else ""
            if desc != sentence:
                problems.append(f"description {desc!r}, refs sentence {sentence!r}")
        if problems:
            report.add("xml-disagrees", f"ann_split/{stem}.xml: " + "; ".join(problems), **where)
    orphans = sorted(
        (p.name for p in folder.glob("*.xml") if p.name not in xml_names), key=natural_key
    )
    if orphans:
        report.add(
            "file-orphan",
            f"{len(orphans):,} ann_split XML files belong to no built image "
            f"(first: {', '.join(orphans[:5])})",
        )


SPEC = register(
    DatasetSpec(
        name="rrsis-d",
        title="RRSIS-D",
        builder=RRSISDBuilder,
        licence="unknown",
        redistributable=False,
        citation=CITATION,
        homepage="https://github.com/Lsan2401/RMSIN",
        download=(
            "Google Drive folder linked from the RMSIN README "
            "(https://drive.google.com/drive/folders/1Xqi3Am2Vgm4a5tHqiV9tfaqKNovcuK3A) or Baidu "
            "(code sjoe): refs(unc).p, instances.json, JPEGImages.zip, ann_split.zip. Pass the "
            "folder holding them as --raw (the archives are extracted for you), or lay them out "
            "as rrsisd/ + images/rrsisd/{JPEGImages,ann_split}/."
        ),
        layout=(
            "rrsisd/refs(unc).p\nrrsisd/instances.json\nimages/rrsisd/JPEGImages/NNNNN.jpg\n"
            "images/rrsisd/ann_split/NNNNN.xml (optional)"
        ),
        published_counts={"train": 12181, "val": 1740, "test": 3481, "total": 17402},
        published_unit="expressions",
        description=(
            "RRSIS-D pairs 17,402 DIOR images (800×800, 0.5–30 m) with one referring sentence "
            "and one SAM-assisted instance mask each, over 20 DIOR categories; the sentences "
            "come from DIOR-RSVG."
        ),
        protocol=(
            "RMSIN protocol: image and ground truth resized to 480×480 (mask with nearest "
            "neighbour), one prediction per sentence, mIoU (mean of per-sentence IoU), oIoU "
            "(ΣI/ΣU) and Precision@0.5–0.9; IoU is 0 when the union is empty. Papers report "
            "val and test. Later work excludes images (RSRefSeg2: 3, DiCoR: 27); those are "
            "flagged, not removed."
        ),
        aliases=("rrsisd",),
    )
)
