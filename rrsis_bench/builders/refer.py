"""The shared reader of REFER-style releases (RRSIS-D, RRSIS-HR, RemoteSAM-270K, NWPU-Refer).

A REFER release is ``<name>/refs(<splitBy>).p`` (a pickled list of refs, read with the
restricted unpickler of :mod:`rrsis_bench.builders.pickles`), ``<name>/instances.json``
(COCO-like images, annotations, categories) and ``images/<name>/JPEGImages/``. The reader:

1. finds the files at either level of ``--raw`` (:mod:`.refer_layout`), extracting a
   ``JPEGImages.zip`` beside the annotation files when the images are not unzipped;
2. checks every assumption about the two files (:mod:`.refer_parse`);
3. resolves refs to annotations and images (``ref-missing-annotation``, ``ref-missing-image``,
   ``ref-image-mismatch``, ``ref-category-mismatch``), scans the image files (size from the
   header, structural truncation check; ``image-missing``, ``image-unreadable``);
4. decodes every segmentation kind at the image's real size, recomputes areas, decides the box
   convention from the data (:mod:`.refer_objects`);
5. turns sentences into expressions, one per sentence or grouped (:mod:`.refer_expressions`);
6. flags duplicate and ambiguous expressions and images used by several splits.

Subclasses set the file names and expectations of one dataset and add their own checks in
:meth:`ReferBuilder.check_release` and :meth:`ReferBuilder.finish`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, ClassVar

from rrsis_bench.builders.base import BuildContext, Builder
from rrsis_bench.builders.pickles import load_pickle
from rrsis_bench.builders.refer_boxes import BBOX_FORMATS
from rrsis_bench.builders.refer_expressions import (
    Unit,
    build_expression,
    flag_duplicates,
    make_units,
)
from rrsis_bench.builders.refer_layout import (
    ReferFiles,
    ReferLayout,
    find_root,
    locate_ann_split,
    locate_images,
    resolve_layout,
)
from rrsis_bench.builders.refer_objects import (
    BuiltObjects,
    DecodedAnnotation,
    ObjectContext,
    build_objects,
    decode_annotations,
    kinds_summary,
)
from rrsis_bench.builders.refer_parse import (
    Instances,
    RawRef,
    load_json,
    parse_instances,
    parse_refs,
)
from rrsis_bench.errors import OptionError, UnknownNameError
from rrsis_bench.images import ImageScan
from rrsis_bench.schema import ImageRecord, natural_key

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")
"""Files of these types in the image folder that no image entry names are reported as orphans."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def as_bool(name: str, value: Any) -> bool:
    """A boolean option given as a bool or as text (``true``/``false``, ``1``/``0``)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise OptionError(f"Expected option {name} to be true or false, but got {value!r}")


class ReferBuilder(Builder):
    """Reads a REFER-style release; subclasses fix the dataset's names and expectations.

    Options (recorded in the manifest):
        group: Unite refs sharing (image, normalised sentence, split) into one expression.
        bbox_format: ``auto`` (decide from the data), ``xywh`` or ``xyxy``.
        image_dir: Image folder relative to the dataset root (default: found automatically).
        repair_polygons: Repair invalid polygons with shapely (default true).
    """

    name: ClassVar[str] = "refer"
    files: ClassVar[ReferFiles] = ReferFiles(name="refer")
    group_default: ClassVar[bool] = False
    expect_equal_ids: ClassVar[bool] = False
    expect_one_sentence: ClassVar[bool] = False
    expect_one_ref_per_image: ClassVar[bool] = False
    no_target_categories: ClassVar[tuple[str, ...]] = ("no target",)
    option_names: ClassVar[tuple[str, ...]] = (
        "group",
        "bbox_format",
        "image_dir",
        "repair_polygons",
        "dataset_name",
    )

    def __init__(self, **options: Any):
        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            raise UnknownNameError(f"option of {self.name}", unknown[0], self.option_names)
        super().__init__(**options)
        self.group = as_bool("group", options.get("group", self.group_default))
        self.bbox_format = str(options.get("bbox_format", "auto"))
        if self.bbox_format not in BBOX_FORMATS:
            raise UnknownNameError("bbox_format", self.bbox_format, BBOX_FORMATS)
        self.repair = as_bool("repair_polygons", options.get("repair_polygons", True))
        image_dir = options.get("image_dir")
        self.image_dir = str(image_dir) if image_dir not in (None, "") else None

    # -- hooks ---------------------------------------------------------------------------

    def refer_files(self) -> ReferFiles:
        """The file and folder names of this release."""
        return self.files

    def load_refs(self, path: Path) -> list[RawRef]:
        """Read and check the refs file (a pickle, read with the restricted unpickler)."""
        return parse_refs(load_pickle(path), path)

    def check_release(
        self, refs: list[RawRef], instances: Instances, layout: ReferLayout, ctx: BuildContext
    ) -> None:
        """Dataset-specific checks of the parsed files (raise ``AssumptionError``)."""

    def finish(
        self,
        ctx: BuildContext,
        layout: ReferLayout,
        records: list[ImageRecord],
        refs: list[RawRef],
        instances: Instances,
    ) -> None:
        """Dataset-specific flags and checks on the finished records."""

    # -- reading -------------------------------------------------------------------------

    def locate(self, raw: Path) -> Path:
        """The dataset root for ``--raw`` at either level."""
        return find_root(raw, self.refer_files())

    def manifest_options(self) -> dict[str, Any]:
        """Options as applied (defaults included); an absolute image_dir is not recorded."""
        opts: dict[str, Any] = {
            "group": self.group,
            "bbox_format": self.bbox_format,
            "repair_polygons": self.repair,
        }
        if self.image_dir is not None and not Path(self.image_dir).is_absolute():
            opts["image_dir"] = self.image_dir
        if self.options.get("dataset_name"):
            opts["dataset_name"] = str(self.options["dataset_name"])
        return opts

    def read(self, ctx: BuildContext) -> list[ImageRecord]:
        """Read the release under ``ctx.root`` (see the module docstring)."""
        files = self.refer_files()
        report = ctx.report
        layout = resolve_layout(ctx.root, files)
        refs = self.load_refs(layout.refs)
        ctx.hash_file(layout.refs)
        instances = parse_instances(load_json(layout.instances), layout.instances)
        ctx.hash_file(layout.instances)
        self.check_release(refs, instances, layout, ctx)

        kept = self._resolve_refs(refs, instances, ctx)
        used_images = sorted({r.image_id for r in kept}, key=natural_key)
        names = [instances.images[i].file_name for i in used_images]
        locate_images(layout, files, names, explicit=self.image_dir, progress=ctx.progress)
        locate_ann_split(layout, files, progress=ctx.progress)
        for archive in (layout.image_archive, layout.ann_split_archive):
            if archive is not None:
                ctx.hash_file(archive)
        keys = ", ".join(f"{k} {n:,}" for k, n in sorted(instances.category_keys.items()))
        layout.notes.append(f"annotation category key: {keys or 'none'}")
        layout.notes.append(f"refs: {len(refs):,}; usable: {len(kept):,}")

        sizes = self._scan(used_images, instances, layout, ctx)
        kept = [r for r in kept if r.image_id in sizes]
        built, failed = self._objects(kept, instances, sizes, ctx)
        layout.notes.append(f"segmentation kinds: {failed}")
        records = self._records(kept, built, instances, sizes, layout, ctx)
        languages = Counter(e.language for r in records for e in r.expressions)
        layout.notes.append(
            "languages: "
            + (", ".join(f"{k} {n:,}" for k, n in sorted(languages.items())) or "none")
        )
        flag_duplicates(records, report)
        self.finish(ctx, layout, records, refs, instances)
        self._orphans(layout, instances, ctx)
        for note in layout.notes:
            report.add("layout", note)
        return records

    def _resolve_refs(
        self, refs: list[RawRef], instances: Instances, ctx: BuildContext
    ) -> list[RawRef]:
        report = ctx.report
        kept: list[RawRef] = []
        per_image: dict[str, list[str]] = defaultdict(list)
        for ref in refs:
            where: dict[str, Any] = {"split": ref.split, "image_id": ref.image_id}
            if ref.image_id not in instances.images:
                report.add(
                    "ref-missing-image",
                    f"ref {ref.ref_id} names image {ref.image_id}, which instances.json lacks "
                    "(ref skipped)",
                    **where,
                )
                continue
            missing = [a for a in ref.ann_ids if a not in instances.annotations]
            if missing:
                report.add(
                    "ref-missing-annotation",
                    f"ref {ref.ref_id} names annotation {', '.join(missing)}, which "
                    "instances.json lacks (ref skipped)",
                    **where,
                )
                continue
            anns = [instances.annotations[a] for a in ref.ann_ids]
            other = [a for a in anns if a.image_id != ref.image_id]
            if other:
                report.add(
                    "ref-image-mismatch",
                    f"ref {ref.ref_id} is on image {ref.image_id} but its annotation "
                    f"{other[0].ann_id} is on image {other[0].image_id} (ref skipped)",
                    **where,
                )
                continue
            for a in anns:
                if (
                    ref.category_id is not None
                    and a.category_id is not None
                    and ref.category_id != a.category_id
                ):
                    report.add(
                        "ref-category-mismatch",
                        f"ref {ref.ref_id} says category {ref.category_id}, its annotation "
                        f"{a.ann_id} says {a.category_id} (the annotation's is used)",
                        **where,
                    )
            if not ref.sentences:
                report.add(
                    "ref-no-sentence", f"ref {ref.ref_id} has no sentence (skipped)", **where
                )
                continue
            if self.expect_one_sentence and len(ref.sentences) != 1:
                report.add(
                    "ref-sentence-count",
                    f"ref {ref.ref_id} has {len(ref.sentences)} sentences (one expected)",
                    **where,
                )
            if self.expect_equal_ids and len({ref.ref_id, ref.image_id, *ref.ann_ids}) != 1:
                report.add(
                    "ref-ids-differ",
                    f"ref {ref.ref_id}: ann_id {', '.join(ref.ann_ids)}, image_id {ref.image_id}",
                    **where,
                )
            per_image[ref.image_id].append(ref.ref_id)
            kept.append(ref)
        if self.expect_one_ref_per_image:
            for image_id, ids in per_image.items():
                if len(ids) > 1:
                    report.add(
                        "ref-duplicate",
                        f"image {image_id} has {len(ids)} refs ({', '.join(ids[:5])}); one expected",
                        image_id=image_id,
                    )
        return kept

    def _scan(
        self,
        image_ids: list[str],
        instances: Instances,
        layout: ReferLayout,
        ctx: BuildContext,
    ) -> dict[str, tuple[Path, str, ImageScan]]:
        """Scan image files; return ``image_id -> (path, file_name, scan)`` of sound ones."""
        if layout.image_dir is None:  # pragma: no cover - locate_images raised already
            return {}
        paths = {i: layout.image_dir / instances.images[i].file_name for i in image_ids}
        # probe headers and end markers only; the shard writer hashes each image as it copies it
        scans = ctx.scan_images(list(paths.values()), hash_files=False)
        out: dict[str, tuple[Path, str, ImageScan]] = {}
        inside_root = layout.image_archive is None
        for image_id, path in paths.items():
            rel = layout.image_prefix + instances.images[image_id].file_name
            res = scans[path]
            if not inside_root and isinstance(res, ImageScan):
                ctx.raw_files.pop(ctx.rel(path), None)
                ctx.raw_files[rel] = res.sha256
            if res == "missing":
                ctx.report.add(
                    "image-missing",
                    f"{rel} does not exist (its refs are skipped)",
                    image_id=image_id,
                    file=rel,
                )
                continue
            if isinstance(res, str) or res.problem is not None:
                why = res if isinstance(res, str) else res.problem
                ctx.report.add(
                    "image-unreadable",
                    f"{rel}: {why} (its refs are skipped)",
                    image_id=image_id,
                    file=rel,
                )
                continue
            img = instances.images[image_id]
            if (img.width, img.height) != (None, None) and (img.width, img.height) != (
                res.width,
                res.height,
            ):
                ctx.report.add(
                    "image-size-differs",
                    f"{rel} is {res.width}×{res.height} (w×h); instances.json says "
                    f"{img.width}×{img.height}",
                    image_id=image_id,
                    file=rel,
                )
            out[image_id] = (path, rel, res)
        return out

    def _objects(
        self,
        kept: list[RawRef],
        instances: Instances,
        sizes: dict[str, tuple[Path, str, ImageScan]],
        ctx: BuildContext,
    ) -> tuple[BuiltObjects, str]:
        anns = [a for a in instances.annotations.values() if a.image_id in sizes]
        anns.sort(key=lambda a: natural_key(a.ann_id))
        jobs = [
            (
                a.ann_id,
                a.segmentation,
                sizes[a.image_id][2].height,
                sizes[a.image_id][2].width,
                self.repair,
            )
            for a in anns
        ]
        decoded: dict[str, DecodedAnnotation] = {}
        users: dict[str, list[str]] = defaultdict(list)
        for ref in kept:
            for a in ref.ann_ids:
                users[a].append(ref.ref_id)
        for res in decode_annotations(jobs, ctx.num_proc, ctx.progress):
            if isinstance(res, DecodedAnnotation):
                decoded[res.ann_id] = res
                continue
            ann_id, why = res
            ann = instances.annotations[ann_id]
            refs_note = f"; refs {', '.join(users[ann_id])} skipped" if users[ann_id] else ""
            ctx.report.add(
                "rle-invalid",
                f"annotation {ann_id}: {why} (annotation skipped{refs_note})",
                image_id=ann.image_id,
            )
        ref_category = {
            a: r.category_id for r in kept for a in r.ann_ids if r.category_id is not None
        }
        octx = ObjectContext(
            categories=instances.categories,
            no_target=frozenset(c.lower() for c in self.no_target_categories),
            image_size={i: (s[2].height, s[2].width) for i, s in sizes.items()},
            ref_category=ref_category,
        )
        built = build_objects(anns, decoded, octx, ctx.report, self.bbox_format)
        return built, kinds_summary(decoded.values())

    def _records(
        self,
        kept: list[RawRef],
        built: BuiltObjects,
        instances: Instances,
        sizes: dict[str, tuple[Path, str, ImageScan]],
        layout: ReferLayout,
        ctx: BuildContext,
    ) -> list[ImageRecord]:
        refs_file = ctx.rel(layout.refs)
        units = make_units(kept, self.group, refs_file, ctx.report)
        by_row: dict[tuple[str, str], list[Unit]] = defaultdict(list)
        for u in units:
            by_row[(u.image_id, u.split)].append(u)
        objects_by_image: dict[str, list[str]] = defaultdict(list)
        for ann_id in built.objects:
            objects_by_image[instances.annotations[ann_id].image_id].append(ann_id)
        splits_of: dict[str, set[str]] = defaultdict(set)
        records: list[ImageRecord] = []
        for (image_id, split), row_units in sorted(
            by_row.items(), key=lambda kv: (kv[0][1], natural_key(kv[0][0]))
        ):
            path, rel, scan = sizes[image_id]
            hw = (scan.height, scan.width)
            expressions = [
                e
                for u in row_units
                if (e := build_expression(u, built, hw, refs_file, ctx.report)) is not None
            ]
            if not expressions:
                continue
            splits_of[image_id].add(split)
            records.append(
                ImageRecord(
                    image_id=image_id,
                    split=split,
                    file_name=rel,
                    source=path,
                    width=scan.width,
                    height=scan.height,
                    objects=[built.objects[a] for a in objects_by_image.get(image_id, [])],
                    expressions=expressions,
                    size_bytes=scan.size_bytes,
                )
            )
        for image_id, splits in splits_of.items():
            if len(splits) > 1:
                ctx.report.add(
                    "image-split-reuse",
                    f"image {image_id} has refs in {', '.join(sorted(splits))}; "
                    "it is kept once per split",
                    image_id=image_id,
                )
        return records

    def _orphans(self, layout: ReferLayout, instances: Instances, ctx: BuildContext) -> None:
        if layout.image_dir is None:  # pragma: no cover
            return
        named = {im.file_name for im in instances.images.values()}
        on_disk = sorted(
            (
                e.name
                for e in _scandir_files(layout.image_dir)
                if e.name not in named and e.name.lower().endswith(IMAGE_SUFFIXES)
            ),
            key=natural_key,
        )
        if on_disk:
            ctx.report.add(
                "file-orphan",
                f"{len(on_disk):,} files in {layout.image_prefix or './'} are named by no image of "
                f"instances.json (first: {', '.join(on_disk[:5])})",
            )


def _scandir_files(folder: Path) -> list[Any]:
    import os

    with os.scandir(folder) as it:
        return [e for e in it if e.is_file() and not e.name.startswith(".")]
