"""What the REFER, gRefCOCO and COCO exporters share.

- :func:`atomic_output`: write into a temporary sibling folder, swap it in when complete;
- :class:`ExportPlan`: the built dataset regrouped the way REFER-style files need it: integer
  ids (the source's own when they are unique integers), categories, image file names, and
  *referents* (the expressions of one image that share a ``ref_key`` and a mask);
- :func:`rectangles`: an exact polygon form of a mask (one rectangle per run of rows), for
  readers that only take polygons.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from rrsis_bench import masks
from rrsis_bench.errors import BuildError, OutputExistsError
from rrsis_bench.expressions import ExpressionView
from rrsis_bench.progress import track
from rrsis_bench.schema import Rle, natural_key

EXPORT_MARKER = "rrsis_bench_export.json"
"""Written at the top of every export: what was exported, and the id maps back to sample ids."""


@dataclass
class ExportResult:
    """What an export wrote.

    Attributes:
        path: The export folder.
        format: ``refer``, ``grefer`` or ``coco``.
        name: The dataset name used in the export's paths (``rrsisd``, ``grefcoco``, ...).
        counts: Per split (as named in the export): images, refs, sentences (expressions).
        annotations: Annotations written to ``instances.json`` (all splits).
        skipped: Expressions left out, by reason (e.g. no-target expressions in REFER).
        notes: Facts a user must know about this export (one sentence each).
        files: The main files written, relative to ``path``.
        sent_id_to_sample_id: Integer sentence id in the export -> rrsis-bench sample id.
    """

    path: Path
    format: str
    name: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    annotations: int = 0
    sent_id_to_sample_id: dict[int, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for ``rrsis_bench_export.json`` and ``--json``)."""
        return {
            "format": self.format,
            "name": self.name,
            "counts": self.counts,
            "annotations": self.annotations,
            "skipped": self.skipped,
            "notes": self.notes,
            "files": self.files,
            "sent_id_to_sample_id": {
                str(k): v for k, v in sorted(self.sent_id_to_sample_id.items())
            },
        }


@contextlib.contextmanager
def atomic_output(
    out: Path, overwrite: bool, marker: str = EXPORT_MARKER, what: str = "export"
) -> Iterator[Path]:
    """Yield a temporary sibling of ``out``; on success it replaces ``out``, else it is removed.

    Args:
        out: The folder to write.
        overwrite: Replace an earlier output (one holding ``marker``).
        marker: The file that identifies an earlier output of this kind.
        what: What is written, for messages (``export``, ``repository``).

    Raises:
        OutputExistsError: If ``out`` exists, is not empty and ``overwrite`` is false, or holds
            something that is not an earlier rrsis-bench output of this kind.
        BuildError: If the folder cannot be written.
    """
    out = Path(out).absolute()
    if out.exists() and any(out.iterdir()):
        if not (out / marker).is_file():
            raise OutputExistsError(
                f"{out} exists and is not an rrsis-bench {what}; choose another folder "
                "(it is never replaced)"
            )
        if not overwrite:
            raise OutputExistsError(
                f"{out} already holds an rrsis-bench {what}; pass --overwrite to replace it"
            )
    tmp = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        tmp.mkdir(parents=True)
        yield tmp
        old = None
        if out.exists():
            old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BuildError(
            f"{exc.filename or out}: cannot write the {what} ({exc.strerror or exc}); free some "
            "space or choose a writable folder"
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def integer_ids(keys: Sequence[str], start: int = 1) -> dict[str, int]:
    """Map string ids to integers: the ids themselves when all are distinct integers, else 1..N.

    Example:
        >>> integer_ids(["7", "12"]), integer_ids(["a", "7"])
        ({'7': 7, '12': 12}, {'a': 1, '7': 2})
    """
    unique = list(dict.fromkeys(keys))
    if unique and all(re.fullmatch(r"\d{1,18}", k) for k in unique):
        as_int = {k: int(k) for k in unique}
        if len(set(as_int.values())) == len(unique):
            return as_int
    return {k: i for i, k in enumerate(unique, start=start)}


def tokens(text: str) -> list[str]:
    """Lower-case word and punctuation tokens (the REFER ``tokens`` field)."""
    return re.findall(r"\w+|[^\w\s]", text.lower())


def rectangles(mask: np.ndarray) -> list[list[float]]:
    """An exact polygon form of a mask: one axis-aligned rectangle per block of equal row runs.

    The rectangles do not overlap and their corners lie on pixel edges, so rasterising them with
    ``pycocotools.mask.frPyObjects`` and uniting (or summing) them gives back ``mask`` exactly,
    holes included.

    Example:
        >>> m = np.zeros((4, 5), dtype=np.uint8); m[1:3, 1:4] = 1
        >>> rectangles(m)
        [[1.0, 1.0, 4.0, 1.0, 4.0, 3.0, 1.0, 3.0]]
    """
    m = np.asarray(mask) != 0
    open_runs: dict[tuple[int, int], int] = {}
    out: list[tuple[int, int, int, int]] = []
    height = m.shape[0]
    for y in range(height + 1):
        runs: set[tuple[int, int]] = set()
        if y < height:
            row = np.concatenate(([0], m[y].astype(np.int8), [0]))
            edges = np.flatnonzero(np.diff(row))
            runs = {(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)}
        for run in list(open_runs):
            if run not in runs:
                out.append((run[0], open_runs.pop(run), run[1], y))
        for run in runs:
            open_runs.setdefault(run, y)
    out.sort(key=lambda r: (r[1], r[0]))
    return [[float(v) for v in (x0, y0, x1, y0, x1, y1, x0, y1)] for x0, y0, x1, y1 in out]


@dataclass
class Referent:
    """Expressions of one image that share a ``ref_key`` and a mask (one REFER ref)."""

    key: str
    split: str
    image: int
    target_type: str
    object_ids: tuple[str, ...]
    categories: tuple[str, ...]
    rle: Rle
    sample_ids: list[str]
    texts: list[str]
    source_ref_id: str | None
    source_sent_ids: list[str | None]


@dataclass
class ImageInfo:
    """An image of the export: its integer id and the file name used in the export."""

    index: int
    image_id: str
    split: str
    file_name: str
    width: int
    height: int
    objects: list[dict[str, Any]]


class ExportPlan:
    """A built dataset regrouped for REFER-style files (computed once, used by each exporter).

    Args:
        view: The expression view of the splits to export.
    """

    def __init__(self, view: ExpressionView):
        self.view = view
        images: dict[int, ImageInfo] = {}
        referents: dict[tuple[Any, ...], Referent] = {}
        for pos in range(len(view)):
            item = view[pos]
            img = view.image_index(pos)
            if img not in images:
                images[img] = ImageInfo(
                    index=img,
                    image_id=item.image_id,
                    split=item.split,
                    file_name=item.file_name,
                    width=item.width,
                    height=item.height,
                    objects=item.objects,
                )
            key = (img, item.ref_key, item.rle["counts"], item.target_type, *item.object_ids)
            ref = referents.get(key)
            if ref is None:
                prov_refs = item.provenance.get("ref_ids") or []
                ref = referents[key] = Referent(
                    key=f"{item.image_id}/{item.ref_key}/{len(referents)}",
                    split=item.split,
                    image=img,
                    target_type=item.target_type,
                    object_ids=tuple(item.object_ids),
                    categories=tuple(item.categories),
                    rle=item.rle,
                    sample_ids=[],
                    texts=[],
                    source_ref_id=prov_refs[0] if len(prov_refs) == 1 else item.ref_key,
                    source_sent_ids=[],
                )
            sent_ids = item.provenance.get("sent_ids") or []
            ref.sample_ids.append(item.sample_id)
            ref.texts.append(item.text)
            ref.source_sent_ids.append(sent_ids[0] if len(sent_ids) == 1 else item.sample_id)
        self.images = list(images.values())
        self.referents = list(referents.values())
        self.image_ids = integer_ids([i.image_id for i in self.images])
        self.export_names = _export_names([i.file_name for i in self.images])
        objects = [(i.image_id, o["object_id"]) for i in self.images for o in i.objects]
        keys = [f"{a}\0{b}" for a, b in objects]
        numeric = integer_ids([b for _, b in objects])
        if _all_numeric(b for _, b in objects) and len(numeric) == len(keys):
            self.object_ids = {k: numeric[b] for k, (_, b) in zip(keys, objects, strict=True)}
        else:
            self.object_ids = {k: n for n, k in enumerate(keys, start=1)}
        self.ref_ids = _ids_with_source(
            [r.key for r in self.referents], [r.source_ref_id for r in self.referents]
        )
        flat_keys = [sid for r in self.referents for sid in r.sample_ids]
        flat_src = [s for r in self.referents for s in r.source_sent_ids]
        self.sent_ids = _ids_with_source(flat_keys, flat_src)
        self.categories = _categories(self.images, self.referents)

    def object_ann_id(self, image: ImageInfo, object_id: str) -> int:
        """Integer annotation id of an object."""
        return self.object_ids[f"{image.image_id}\0{object_id}"]

    def next_ann_id(self) -> Iterator[int]:
        """Fresh annotation ids above every object's id (for masks that are no single object)."""
        start = max(self.object_ids.values(), default=0) + 1
        n = start
        while True:
            yield n
            n += 1

    def category_id(self, name: str | None) -> int:
        """Category id of a category name (``object`` when the name is missing)."""
        return self.categories[name or "object"]

    def images_of(self, splits: Iterable[str]) -> list[ImageInfo]:
        """Images of the given splits, in export order."""
        wanted = set(splits)
        return [i for i in self.images if i.split in wanted]


def _all_numeric(values: Iterable[str]) -> bool:
    return all(re.fullmatch(r"\d{1,18}", v) for v in values)


def _ids_with_source(keys: list[str], source: list[str | None]) -> dict[str, int]:
    """Integer ids keyed by ``keys``: the source's ids when all are present and distinct integers."""
    if source and all(s is not None for s in source):
        numeric = integer_ids([str(s) for s in source])
        if len(numeric) == len(keys) and len(set(numeric.values())) == len(keys):
            return {k: numeric[str(s)] for k, s in zip(keys, source, strict=True)}
    return {k: i for i, k in enumerate(keys, start=1)}


def _export_names(file_names: list[str]) -> dict[str, str]:
    """File names used in the export: the base name when all are distinct, else the full path."""
    bases = [PurePosixPath(f).name for f in file_names]
    if len(set(bases)) == len(bases):
        return dict(zip(file_names, bases, strict=True))
    return {f: f for f in file_names}


def _categories(images: list[ImageInfo], referents: list[Referent]) -> dict[str, int]:
    """Category name -> id: the source's ids when consistent, else 1..N in name order."""
    pairs: dict[str, set[int]] = {}
    for img in images:
        for o in img.objects:
            pairs.setdefault(o["category"], set()).add(int(o["category_id"]))
    names = set(pairs)
    for r in referents:
        if r.target_type != "none":
            names.update(r.categories or ("object",))
    ids = [next(iter(v)) for v in pairs.values() if len(v) == 1]
    consistent = all(len(v) == 1 for v in pairs.values()) and len(set(ids)) == len(ids)
    if consistent:
        out = {n: next(iter(v)) for n, v in pairs.items()}
        nxt = max(out.values(), default=0) + 1
        for n in sorted(names - set(out), key=natural_key):
            out[n] = nxt
            nxt += 1
        return out
    return {n: i for i, n in enumerate(sorted(names, key=natural_key), start=1)}


def write_images(plan: ExportPlan, images: Sequence[ImageInfo], folder: Path) -> None:
    """Write the stored bytes of ``images`` into ``folder`` under their export names."""
    for img in track(images, f"writing images to {folder.name}", len(images)):
        data = plan.view.image_bytes(img.index)
        if data is None:
            raise BuildError(f"image {img.image_id!r} has no stored bytes; rebuild the dataset")
        target = folder / plan.export_names[img.file_name]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def segmentation(rle: Rle, mode: str, image: ImageInfo, counts: dict[str, int]) -> Any:
    """A REFER-style ``segmentation``: ``[RLE]`` or exact rectangles (``polygon`` mode).

    In polygon mode an empty mask becomes one zero-area triangle (readers index the first
    polygon, and ReLA drops annotations without a polygon of 3 points), and a mask whose size
    differs from the image's stays ``[RLE]`` (polygons are drawn at the image size); both are
    counted in ``counts``.
    """
    as_rle = [{"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": rle["counts"]}]
    if mode == "rle":
        return as_rle
    if [int(rle["size"][0]), int(rle["size"][1])] != [image.height, image.width]:
        counts["size_mismatch_kept_as_rle"] = counts.get("size_mismatch_kept_as_rle", 0) + 1
        return as_rle
    polys = rectangles(masks.decode(rle))
    if not polys:
        # a zero-area triangle: rasterises to an empty mask, and polygon-only readers keep it
        counts["empty_mask_zero_area_polygon"] = counts.get("empty_mask_zero_area_polygon", 0) + 1
        return [[0.0] * 6]
    return polys


def instance_annotation(
    ann_id: int, image_id: int, category_id: int, rle: Rle, bbox: Sequence[float], seg: Any
) -> dict[str, Any]:
    """One COCO ``annotations`` entry."""
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": category_id,
        "segmentation": seg,
        "area": int(masks.area(rle)),
        "bbox": [float(v) for v in bbox],
        "iscrowd": 0,
    }


def count_images(plan: ExportPlan, result: ExportResult, split_names: Mapping[str, str]) -> None:
    """Add each image of ``plan`` to the image count of its (renamed) split."""
    for img in plan.images:
        split = split_names.get(img.split, img.split)
        c = result.counts.setdefault(split, {"images": 0, "refs": 0, "sentences": 0})
        c["images"] += 1


def export_notes(seg_counts: Mapping[str, int], skipped: Mapping[str, int]) -> list[str]:
    """One sentence per thing a user of a REFER-style export must know."""
    notes: list[str] = []
    if skipped.get("no_target"):
        notes.append(
            f"{skipped['no_target']} no-target expressions left out: REFER refs need an annotation"
        )
    if seg_counts.get("multi_target_as_union"):
        notes.append(
            f"{seg_counts['multi_target_as_union']} multi-target refs written as one annotation "
            "holding the union mask (REFER has one annotation per ref)"
        )
    if seg_counts.get("mask_without_objects"):
        notes.append(
            f"{seg_counts['mask_without_objects']} refs on images without annotated objects "
            "(the source has no instances) got an annotation holding the expression's mask"
        )
    if seg_counts.get("mask_not_an_object"):
        notes.append(
            f"{seg_counts['mask_not_an_object']} refs whose mask is not that of their annotated "
            "object(s) got an annotation of their own"
        )
    if seg_counts.get("empty_mask_zero_area_polygon"):
        notes.append(
            f"{seg_counts['empty_mask_zero_area_polygon']} empty masks written as a zero-area "
            "polygon (it rasterises to an empty mask)"
        )
    if seg_counts.get("size_mismatch_kept_as_rle"):
        notes.append(
            f"{seg_counts['size_mismatch_kept_as_rle']} masks whose size differs from the image "
            "kept as RLE (polygons are drawn at the image size; polygon-only readers such as "
            "ReLA's loader skip them)"
        )
    return notes
