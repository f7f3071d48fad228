"""The phrase-file family: one image, one mask and one sentence per line of a text file.

Layout (RefSegRS, RISBench and look-alikes)::

    <root>/                       the release folder, or a folder holding it, or its archive
      <image dir>/<id>[.ext]      e.g. images/4213.tif, img_rgb/train_14703_0.png
      <mask dir>/<id>[.ext]       one single-channel mask per line (foreground > threshold)
      output_phrase_train.txt     lines `<id or file name> <sentence>`
      output_phrase_val.txt
      output_phrase_test.txt

Each line is one expression on its own image file (a tile may be duplicated under several ids);
sources with no instances give rows with empty ``objects`` and the source mask as the
expression's mask. :class:`PhraseBuilder` is the generic reader (registered as ``phrase``, driven
by options); the RefSegRS and RISBench builders only supply a :class:`PhraseLayout`.

Example:
    >>> from rrsis_bench.builders import build                               # doctest: +SKIP
    >>> build("phrase", raw="~/data/MyPhraseSet", image_dir="img", mask_dir="gt",
    ...       dataset_name="my-phrase-set")                                  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

from rrsis_bench.archives import extract, is_archive
from rrsis_bench.builders.base import BuildContext, Builder
from rrsis_bench.builders.phrase_checks import Sample, check_leakage, check_sample, report_values
from rrsis_bench.builders.phrase_files import SampleJob, scan_samples
from rrsis_bench.builders.phrase_layout import (
    PhraseLayout,
    ResolvedLayout,
    apply_options,
    find_file,
    listing,
)
from rrsis_bench.builders.phrase_text import PhraseLine, read_phrase_file
from rrsis_bench.card import CardInfo
from rrsis_bench.errors import DatasetNotFoundError
from rrsis_bench.registry import DatasetSpec, register
from rrsis_bench.schema import SPLITS, ImageRecord, make_sample_id, natural_key
from rrsis_bench.validate import Report

__all__ = ["GENERIC_SPEC", "SPLIT_PRIORITY", "PhraseBuilder", "PhraseLayout", "apply_options"]

SPLIT_PRIORITY: tuple[str, ...] = ("test", "val", "train")
"""Which split keeps an id listed in several: evaluation splits stay as published."""


class PhraseBuilder(Builder):
    """Generic reader of phrase-file releases (registered as ``phrase``).

    Subclasses override :meth:`base_layout`; options (see :func:`apply_options`) refine it.
    """

    name = "phrase"

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.layout = apply_options(self.base_layout(), options)
        self._resolved: ResolvedLayout | None = None

    def base_layout(self) -> PhraseLayout:
        """The layout before options (the generic one: ``images/``, ``masks/``, three splits)."""
        return PhraseLayout(title="phrase-file dataset")

    # ---------------------------------------------------------------- locating the release

    def _is_root(self, folder: Path) -> bool:
        return folder.is_dir() and any(
            (folder / name).is_file()
            for names in self.layout.phrase_files.values()
            for name in names
        )

    def _find_root(self, folder: Path) -> Path | None:
        candidates = [folder] + [folder / t for t in self.layout.top_dirs]
        if folder.is_dir():
            candidates += sorted(p for p in folder.iterdir() if p.is_dir())
        return next((c for c in candidates if self._is_root(c)), None)

    def _expected(self) -> str:
        files = ", ".join(names[0] for names in self.layout.phrase_files.values())
        return f"{files} beside {self.layout.image_dirs[0]}/ and {self.layout.mask_dirs[0]}/"

    def locate(self, raw: Path) -> Path:
        """Find the release root in ``raw``: the folder, a folder above it, or an archive."""
        if raw.is_file():
            if not is_archive(raw):
                raise DatasetNotFoundError(
                    f"{raw}: is a file, not the {self.layout.title} folder or archive; pass "
                    f"--raw pointing at the folder holding {self._expected()}"
                )
            return self._root_in_archive(raw)
        root = self._find_root(raw)
        if root is None:
            for name in self.layout.archives:
                if (raw / name).is_file():
                    return self._root_in_archive(raw / name)
            archives = (
                f", or {' or '.join(self.layout.archives)} in this folder"
                if self.layout.archives
                else ""
            )
            raise DatasetNotFoundError(
                f"{raw}: no {self.layout.title} release found; expected {self._expected()} "
                f"in this folder or one below it{archives}"
            )
        self._resolved = self.resolve(root)
        return root

    def _root_in_archive(self, archive: Path) -> Path:
        folder = extract(archive)
        root = self._find_root(folder)
        if root is None:
            raise DatasetNotFoundError(
                f"{archive}: the archive holds no {self.layout.title} release (expected "
                f"{self._expected()}); is it the right download?"
            )
        self._resolved = self.resolve(root)
        return root

    def resolve(self, root: Path) -> ResolvedLayout:
        """Find the image folder, mask folder and phrase files under ``root``.

        Raises:
            DatasetNotFoundError: Naming every missing piece (a partial download or extraction).
        """
        missing: list[str] = []
        image_dir = next((root / d for d in self.layout.image_dirs if (root / d).is_dir()), None)
        mask_dir = next((root / d for d in self.layout.mask_dirs if (root / d).is_dir()), None)
        if image_dir is None:
            missing.append(f"the image folder {self.layout.image_dirs[0]}/")
        if mask_dir is None:
            missing.append(f"the mask folder {self.layout.mask_dirs[0]}/")
        files: dict[str, Path] = {}
        for split, names in self.layout.phrase_files.items():
            found = next((root / n for n in names if (root / n).is_file()), None)
            if found is None:
                missing.append(names[0])
            else:
                files[split] = found
        if missing or image_dir is None or mask_dir is None:
            raise DatasetNotFoundError(
                f"{root}: incomplete {self.layout.title} release, missing "
                f"{', '.join(missing)}; download or extract the whole release again"
            )
        return ResolvedLayout(image_dir, mask_dir, files)

    # ---------------------------------------------------------------- reading

    def read(self, ctx: BuildContext) -> list[ImageRecord]:
        """Read every phrase file, check every sample and return one record per kept line."""
        resolved = self._resolved or self.resolve(ctx.root)
        self._resolved = resolved
        report = ctx.report
        images = listing(resolved.image_dir)
        mask_files = listing(resolved.mask_dir)
        entries = self._read_lines(ctx, resolved)
        report.add(
            "layout",
            f"{ctx.rel(resolved.image_dir)}/ ({len(images):,} files), "
            f"{ctx.rel(resolved.mask_dir)}/ ({len(mask_files):,} files), "
            + ", ".join(
                f"{ctx.rel(p)} ({sum(1 for e in entries if e.split == s):,} usable lines)"
                for s, p in resolved.phrase_files.items()
            )
            + f"; masks binarised with value > {self.layout.threshold}",
        )
        jobs: list[SampleJob] = []
        used_images: set[str] = set()
        used_masks: set[str] = set()
        for entry in entries:
            stem, suffix = entry.line.stem, entry.line.suffix
            image = find_file(images, stem, suffix, self.layout.image_ext)
            mask = find_file(mask_files, stem, suffix, self.layout.mask_ext)
            entry.image_path = resolved.image_dir / (
                image or stem + (suffix or self.layout.image_ext or ".*")
            )
            entry.mask_path = resolved.mask_dir / (
                mask or stem + (suffix or self.layout.mask_ext or ".*")
            )
            if image:
                used_images.add(image)
            if mask:
                used_masks.add(mask)
            jobs.append(
                SampleJob(
                    str(entry.image_path) if image else None,
                    str(entry.mask_path) if mask else None,
                    self.layout.threshold,
                    ctx.deep,
                )
            )
        for folder, names, used in (
            (resolved.image_dir, images, used_images),
            (resolved.mask_dir, mask_files, used_masks),
        ):
            for name in sorted(names.names - used, key=natural_key):
                report.add(
                    "file-orphan",
                    f"{ctx.rel(folder / name)} is named by no line of the phrase files",
                    file=ctx.rel(folder / name),
                )
        results = scan_samples(jobs, ctx.num_proc, ctx.progress)
        kept: list[Sample] = []
        for entry, (image_res, mask_res) in zip(entries, results, strict=True):
            for path, sha in (
                (entry.image_path, image_res.sha256),
                (entry.mask_path, mask_res.sha256),
            ):
                if path is not None and sha is not None:
                    ctx.raw_files[ctx.rel(path)] = sha
            sample = check_sample(ctx, entry, image_res, mask_res, self.layout)
            if sample is not None:
                kept.append(sample)
        report_values(ctx, kept, self.layout.threshold)
        check_leakage(ctx.report, kept)
        self._flag_exclusions(ctx, kept)
        records = [s.to_record(ctx) for s in kept]
        records.sort(key=lambda r: (SPLITS.index(r.split), natural_key(r.image_id)))
        return records

    def _read_lines(self, ctx: BuildContext, resolved: ResolvedLayout) -> list[Sample]:
        """Parse the phrase files; resolve duplicate ids within and across splits."""
        report = ctx.report
        pattern = re.compile(self.layout.id_pattern) if self.layout.id_pattern else None
        by_stem: dict[str, list[Sample]] = {}
        for split, path in resolved.phrase_files.items():
            rel = ctx.rel(path)
            ctx.hash_file(path)
            lines, problems, crlf = read_phrase_file(path, pattern)
            for p in problems:
                report.add(p.rule, f"{rel}:{p.lineno}: {p.message}", split=split, file=rel)
            if crlf:
                report.add(
                    "text-noise",
                    f"{rel}: {crlf:,} lines end with CRLF; the CR was removed "
                    "(expressions flagged text_normalized)",
                    split=split,
                    file=rel,
                )
            for line in lines:
                _report_noise(report, split, rel, line)
                by_stem.setdefault(line.stem, []).append(Sample(split, rel, line))
        kept: dict[str, Sample] = {}
        for stem, occurrences in by_stem.items():
            first = min(occurrences, key=lambda s: (SPLIT_PRIORITY.index(s.split), s.line.lineno))
            for other in occurrences:
                if other is first:
                    continue
                where = f"{other.file}:{other.line.lineno}"
                if other.split != first.split:
                    report.add(
                        "id-duplicate",
                        f"{where}: id {stem!r} is also in {first.split} "
                        f"({first.file}:{first.line.lineno}); kept in {first.split} only",
                        split=other.split,
                        image_id=stem,
                        file=other.file,
                    )
                elif other.line.text == first.line.text:
                    report.add(
                        "line-duplicate",
                        f"{where}: repeats line {first.line.lineno} "
                        f"({stem} {first.line.text!r}); kept once",
                        split=other.split,
                        image_id=stem,
                        file=other.file,
                    )
                else:
                    report.add(
                        "id-duplicate",
                        f"{where}: id {stem!r} already on line {first.line.lineno} with another "
                        f"expression ({first.line.text!r}); this line is skipped",
                        split=other.split,
                        image_id=stem,
                        file=other.file,
                    )
            kept[stem] = first
        by_sample: dict[str, Sample] = {}
        for stem in sorted(kept, key=natural_key):
            sample = kept[stem]
            sid = make_sample_id(stem)
            if sid in by_sample:
                prev = by_sample[sid]
                report.add(
                    "id-duplicate",
                    f"{sample.file}:{sample.line.lineno}: id {stem!r} gives the sample id "
                    f"{sid!r} of id {prev.line.stem!r}; this line is skipped",
                    split=sample.split,
                    image_id=stem,
                    file=sample.file,
                )
                continue
            sample.sample_id = sid
            by_sample[sid] = sample
        return sorted(
            by_sample.values(), key=lambda s: (SPLITS.index(s.split), natural_key(s.line.stem))
        )

    def _flag_exclusions(self, ctx: BuildContext, samples: list[Sample]) -> None:
        for flag, ids in sorted(self.layout.exclusions.items()):
            hits = [s for s in samples if s.line.stem in ids]
            for s in hits:
                s.flags.add(flag)
            listed = ", ".join(sorted((s.line.stem for s in hits), key=natural_key))
            ctx.report.add(
                "excluded-list",
                f"{len(hits)} of the {len(ids)} ids on the list behind flag {flag} are present"
                + (f" ({listed})" if listed else "")
                + "; flagged, kept",
            )

    # ---------------------------------------------------------------- manifest and card

    def manifest_options(self) -> dict[str, Any]:
        """The effective layout (folder and file names found, binarisation rule, options)."""
        out: dict[str, Any] = dict(super().manifest_options())
        out["mask_rule"] = f"value > {self.layout.threshold}"
        out["id_pattern"] = self.layout.id_pattern
        out["lexicon"] = list(self.layout.lexicon)
        if self._resolved is not None:
            root = self._resolved.image_dir.parent
            out["image_dir"] = self._resolved.image_dir.relative_to(root).as_posix()
            out["mask_dir"] = self._resolved.mask_dir.relative_to(root).as_posix()
            out["phrase_files"] = {s: p.name for s, p in self._resolved.phrase_files.items()}
        return dict(sorted(out.items()))

    def card_info(self) -> CardInfo:
        """Registry facts, with ``dataset_name`` / ``title`` options applied."""
        info = super().card_info()
        if "dataset_name" in self.options or "title" in self.options:
            info = dataclasses.replace(
                info, name=self.dataset_name(), title=self.layout.title or info.title
            )
        return info


def _report_noise(report: Report, split: str, rel: str, line: PhraseLine) -> None:
    kinds = [n for n in line.noise if n != "CR line ending"]
    if kinds:
        report.add(
            "text-noise",
            f"{rel}:{line.lineno}: {', '.join(kinds)} in {line.text!r}",
            split=split,
            sample_id=make_sample_id(line.stem),
            file=rel,
        )


GENERIC_SPEC = register(
    DatasetSpec(
        name="phrase",
        title="phrase-file dataset",
        builder=PhraseBuilder,
        licence="unknown",
        redistributable=False,
        citation="(cite the source dataset)",
        homepage="",
        download="Any release with output_phrase_{train,val,test}.txt lines `<id> <sentence>`, an "
        "image folder and a mask folder; pass the folder names as options (-o image_dir=... "
        "-o mask_dir=...) and -o dataset_name=NAME.",
        layout="<root>/{images,masks}/<id>.<ext>, <root>/output_phrase_<split>.txt",
        published_counts={},
        published_unit="expressions",
        description="A referring segmentation dataset in the phrase-file layout (one image, one "
        "mask and one sentence per line), read by rrsis-bench's generic phrase-file reader.",
        protocol="Not specified by rrsis-bench; state the protocol you score with.",
        aliases=("phrase-file", "phrase-generic"),
    )
)
