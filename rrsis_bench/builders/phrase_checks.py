"""Checks of the phrase-file builders: per-sample files and masks, value sets, tile leakage.

Leakage is judged on *pixels*: samples whose images decode to identical pixels are one tile
(``duplicate_tile``; ``cross_split_tile`` when the ids sit in different splits). Among them,
samples with the same mask and different text are a synonym group (``synonym_group``: e.g.
"vehicle" / "car" / "light-duty vehicle" on one RefSegRS tile); the same mask with the same text
is a duplicate expression, and the same text with different masks an ambiguous one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rrsis_bench.builders.base import BuildContext
from rrsis_bench.builders.phrase_files import ImageResult, MaskResult
from rrsis_bench.builders.phrase_text import PhraseLine, categories_from_text
from rrsis_bench.schema import (
    SPLITS,
    ExpressionRecord,
    ImageRecord,
    Provenance,
    detect_language,
    natural_key,
)
from rrsis_bench.validate import Report

if TYPE_CHECKING:
    from rrsis_bench.builders.phrase_layout import PhraseLayout


@dataclass
class Sample:
    """One phrase line on its way to a record (mutable while checks add flags)."""

    split: str
    file: str
    line: PhraseLine
    sample_id: str = ""
    image_path: Path | None = None
    mask_path: Path | None = None
    image: ImageResult | None = None
    mask: MaskResult | None = None
    categories: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)

    @property
    def where(self) -> str:
        """``file:line`` of the phrase line."""
        return f"{self.file}:{self.line.lineno}"

    def to_record(self, ctx: BuildContext) -> ImageRecord:
        """The format-v1 record: one image row holding this one expression."""
        assert self.image is not None and self.mask is not None and self.mask.rle is not None
        assert self.image_path is not None
        expression = ExpressionRecord(
            sample_id=self.sample_id,
            text=self.line.text,
            target_type="single",
            ref_key=self.sample_id,
            object_ids=[],
            categories=list(self.categories),
            mask=self.mask.rle,
            area=self.mask.area,
            provenance=Provenance(file=self.file, line=self.line.lineno),
            language=detect_language(self.line.text),
            flags=sorted(self.flags),
        )
        return ImageRecord(
            image_id=self.line.stem,
            split=self.split,
            file_name=ctx.rel(self.image_path),
            source=self.image_path,
            width=self.image.width,
            height=self.image.height,
            objects=[],
            expressions=[expression],
            size_bytes=self.image.size_bytes,
        )


def check_sample(
    ctx: BuildContext,
    sample: Sample,
    image: ImageResult,
    mask: MaskResult,
    layout: PhraseLayout,
) -> Sample | None:
    """Report the sample's file and mask problems; return it if it is kept, else ``None``."""
    report = ctx.report
    sid, split = sample.sample_id, sample.split
    image_rel = ctx.rel(sample.image_path) if sample.image_path else "?"
    mask_rel = ctx.rel(sample.mask_path) if sample.mask_path else "?"
    keep = True
    if image.problem == "missing":
        report.add(
            "image-missing",
            f"{sample.where}: no image file {image_rel}; sample skipped",
            split=split,
            image_id=sample.line.stem,
            sample_id=sid,
            file=image_rel,
        )
        keep = False
    elif image.problem is not None:
        report.add(
            "image-unreadable",
            f"{image_rel}: {image.problem}; sample {sid} skipped",
            split=split,
            image_id=sample.line.stem,
            sample_id=sid,
            file=image_rel,
        )
        keep = False
    if mask.problem == "missing":
        report.add(
            "mask-missing",
            f"{sample.where}: no mask file {mask_rel}; sample skipped",
            split=split,
            image_id=sample.line.stem,
            sample_id=sid,
            file=mask_rel,
        )
        keep = False
    elif mask.problem is not None or mask.rle is None:
        report.add(
            "mask-unreadable",
            f"{mask_rel}: {mask.problem}; sample {sid} skipped",
            split=split,
            image_id=sample.line.stem,
            sample_id=sid,
            file=mask_rel,
        )
        keep = False
    if not keep:
        return None
    sample.image, sample.mask = image, mask
    _check_mask(report, sample, mask_rel, layout.threshold)
    if sample.line.normalized:
        sample.flags.add("text_normalized")
    if layout.lexicon:
        sample.categories = categories_from_text(sample.line.text, layout.lexicon)
        sample.flags.add("category_from_text")
    return sample


def _check_mask(report: Report, sample: Sample, mask_rel: str, threshold: int) -> None:
    image, mask = sample.image, sample.mask
    assert image is not None and mask is not None

    def add(rule: str, message: str) -> None:
        report.add(
            rule,
            f"{mask_rel}: {message}",
            split=sample.split,
            image_id=sample.line.stem,
            sample_id=sample.sample_id,
            file=mask_rel,
        )

    nonzero = [v for v in mask.values if v != 0]
    if len(nonzero) > 1:
        sample.flags.add("mask_binarized")
        add("mask-values", f"values {_fmt_values(mask.values)}; binarised with value > {threshold}")
    if (mask.height, mask.width) != (image.height, image.width):
        sample.flags.add("size_mismatch")
        add(
            "mask-size-mismatch",
            f"mask is {mask.width}×{mask.height}, image is {image.width}×{image.height}; "
            "the mask is kept at its own size",
        )
    if mask.area == 0:
        sample.flags.add("empty_mask")
        hint = ""
        if nonzero and max(nonzero) <= threshold:
            hint = (
                f" (its nonzero values {_fmt_values(tuple(nonzero))} are all ≤ {threshold}; "
                "if they are foreground, build with -o mask_threshold=0)"
            )
        add("mask-empty", f"empty mask for {sample.line.text!r}{hint}")
    elif mask.area == mask.height * mask.width:
        sample.flags.add("full_mask")
        add("mask-full", "the mask covers the whole image")


def _fmt_values(values: tuple[int, ...], limit: int = 8) -> str:
    shown = ", ".join(str(v) for v in values[:limit])
    more = f", … ({len(values)} values)" if len(values) > limit else ""
    return "{" + shown + more + "}"


def report_values(ctx: BuildContext, samples: list[Sample], threshold: int) -> None:
    """One ``mask-value-set`` finding: the value sets found across the masks, with counts."""
    sets: Counter[tuple[int, ...]] = Counter()
    notes: Counter[str] = Counter()
    union: set[int] = set()
    for s in samples:
        assert s.mask is not None
        sets[s.mask.values] += 1
        union.update(s.mask.values)
        if s.mask.note:
            notes[s.mask.note] += 1
    if not samples:
        return
    ranked = sorted(sets.items(), key=lambda kv: (-kv[1], kv[0]))
    parts = [f"{_fmt_values(v)} in {n:,}" for v, n in ranked[:6]]
    if len(ranked) > 6:
        parts.append(f"{len(ranked) - 6} more sets")
    message = (
        f"{len(samples):,} masks hold the values {_fmt_values(tuple(sorted(union)))}: "
        + "; ".join(parts)
        + f"; binarised with value > {threshold}"
    )
    if notes:
        message += "; " + "; ".join(
            f"{n:,} mask{'' if n == 1 else 's'}: {note}" for note, n in sorted(notes.items())
        )
    ctx.report.add("mask-value-set", message)


def check_leakage(report: Report, samples: list[Sample]) -> None:
    """Group samples by image pixels, then by mask; flag and report tiles, synonyms, duplicates."""
    tiles: dict[str, list[Sample]] = {}
    for s in samples:
        assert s.image is not None and s.image.pixel_sha256 is not None
        tiles.setdefault(s.image.pixel_sha256, []).append(s)
    groups = [g for g in tiles.values() if len(g) > 1]
    groups.sort(key=lambda g: min(_order(s) for s in g))
    for group in groups:
        group.sort(key=_order)
        first = group[0]
        splits = sorted({s.split for s in group}, key=SPLITS.index)
        ids = ", ".join(f"{s.line.stem} ({s.split})" for s in group)
        for s in group:
            s.flags.add("duplicate_tile")
        report.add(
            "tile-duplicate",
            f"{len(group)} ids share one tile (identical pixels): {ids}",
            split=first.split,
            image_id=first.line.stem,
        )
        if len(splits) > 1:
            for s in group:
                s.flags.add("cross_split_tile")
            report.add(
                "tile-cross-split",
                f"one tile is in {' and '.join(splits)}: {ids}",
                split=first.split,
                image_id=first.line.stem,
            )
        _check_tile_texts(report, group)


def _check_tile_texts(report: Report, group: list[Sample]) -> None:
    by_mask: dict[tuple[tuple[int, ...], str], list[Sample]] = {}
    for s in group:
        assert s.mask is not None and s.mask.rle is not None
        by_mask.setdefault((tuple(s.mask.rle["size"]), s.mask.rle["counts"]), []).append(s)
    for same_mask in by_mask.values():
        texts = {s.line.text for s in same_mask}
        if len(texts) > 1:
            for s in same_mask:
                s.flags.add("synonym_group")
            report.add(
                "synonym-group",
                f"{len(same_mask)} expressions, one tile and one mask: "
                + "; ".join(f"{s.line.stem} {s.line.text!r}" for s in same_mask),
                split=same_mask[0].split,
                image_id=same_mask[0].line.stem,
            )
        by_text: dict[str, list[Sample]] = {}
        for s in same_mask:
            by_text.setdefault(s.line.text, []).append(s)
        for text, dup in by_text.items():
            if len(dup) > 1:
                for s in dup:
                    s.flags.add("duplicate_expression")
                report.add(
                    "expression-duplicate",
                    f"ids {', '.join(s.line.stem for s in dup)} repeat {text!r} with one tile "
                    "and one mask",
                    split=dup[0].split,
                    image_id=dup[0].line.stem,
                    sample_id=dup[0].sample_id,
                )
    masks_by_text: dict[str, set[tuple[tuple[int, ...], str]]] = {}
    members: dict[str, list[Sample]] = {}
    for key, same_mask in by_mask.items():
        for s in same_mask:
            masks_by_text.setdefault(s.line.text, set()).add(key)
            members.setdefault(s.line.text, []).append(s)
    for text, keys in masks_by_text.items():
        if len(keys) > 1:
            ambiguous = sorted(members[text], key=_order)
            for s in ambiguous:
                s.flags.add("ambiguous_expression")
            report.add(
                "expression-ambiguous",
                f"{text!r} names {len(keys)} different masks on one tile: ids "
                + ", ".join(s.line.stem for s in ambiguous),
                split=ambiguous[0].split,
                image_id=ambiguous[0].line.stem,
                sample_id=ambiguous[0].sample_id,
            )


def _order(s: Sample) -> tuple[int, tuple[object, ...]]:
    return SPLITS.index(s.split), natural_key(s.line.stem)
