"""Builders: raw releases in, validated built datasets out.

Example:
    >>> from rrsis_bench.builders import build                     # doctest: +SKIP
    >>> result = build("rrsis-d", raw="~/downloads/RRSIS-D")        # doctest: +SKIP
    >>> result.path, result.report.counts_by_severity()             # doctest: +SKIP
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rrsis_bench.builders.base import BuildContext, Builder
from rrsis_bench.errors import DatasetNotFoundError, ValidationFailedError
from rrsis_bench.registry import get_spec
from rrsis_bench.schema import SPLITS, ImageRecord
from rrsis_bench.store import BuildInputs, check_output, default_out, write_dataset
from rrsis_bench.validate import Report

__all__ = ["BuildContext", "BuildResult", "Builder", "build", "get_builder", "read_raw", "validate"]


@dataclass
class BuildResult:
    """What a build produced."""

    path: Path | None
    report: Report
    records: list[ImageRecord]
    counts: dict[str, dict[str, int]]


def get_builder(dataset: str, **options: Any) -> Builder:
    """Instantiate the builder registered under ``dataset`` with ``options``."""
    spec = get_spec(dataset)
    return spec.builder(**options)


def _counts(records: list[ImageRecord]) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for split in SPLITS:
        recs = [r for r in records if r.split == split]
        if not recs:
            continue
        tt = Counter(e.target_type for r in recs for e in r.expressions)
        counts[split] = {
            "images": len(recs),
            "expressions": sum(len(r.expressions) for r in recs),
            "objects": sum(len(r.objects) for r in recs),
            "single": tt.get("single", 0),
            "multi": tt.get("multi", 0),
            "none": tt.get("none", 0),
        }
    return counts


def read_raw(
    dataset: str | Builder,
    raw: str | Path,
    *,
    num_proc: int = 1,
    deep: bool = False,
    progress: bool | None = None,
    **options: Any,
) -> tuple[Builder, BuildContext, list[ImageRecord]]:
    """Run a builder's reading stage (no writing) and compare counts with the published ones."""
    builder = dataset if isinstance(dataset, Builder) else get_builder(dataset, **options)
    raw_path = Path(raw).expanduser()
    if not raw_path.exists():
        raise DatasetNotFoundError(
            f"{raw_path}: the raw folder does not exist; pass --raw pointing at the downloaded "
            f"{builder.name} release (see `rrsis-bench datasets` for where to get it)"
        )
    root = builder.locate(raw_path)
    report = Report(builder.dataset_name())
    ctx = BuildContext(
        root=root, report=report, num_proc=max(1, num_proc), deep=deep, progress=progress
    )
    records = builder.read(ctx)
    counts = _counts(records)
    published, unit = builder.published_counts()
    if published:
        found = {s: c[unit] for s, c in counts.items()}
        found["total"] = sum(found.values())
        report.compare_counts(found, published, unit)
    return builder, ctx, records


def build(
    dataset: str | Builder,
    raw: str | Path,
    out: str | Path | None = None,
    *,
    num_proc: int = 1,
    strict: bool = False,
    overwrite: bool = False,
    deep: bool = False,
    progress: bool | None = None,
    max_shard_bytes: int | None = None,
    **options: Any,
) -> BuildResult:
    """Build a dataset from its raw release.

    Args:
        dataset: Registry name (``rrsis-d``, ``refsegrs``, ...) or a builder instance.
        raw: The raw release folder (either level of its layout) or archive.
        out: The build folder itself; default ``$RRSIS_BENCH_HOME/<dataset>``.
        num_proc: Processes for scanning images and writing shards (never changes the output).
        strict: Make validation errors and warnings fatal (nothing is written).
        overwrite: Replace an existing build at ``out``.
        deep: Decode every image instead of checking file structure only.
        progress: Show progress bars.
        max_shard_bytes: Target shard size (default 256 MiB).
        **options: Builder options (recorded in the manifest).

    Raises:
        DatasetNotFoundError: The raw folder or a required file is missing.
        FormatError: An annotation file is malformed or hostile.
        ValidationFailedError: ``strict`` and validation found errors or warnings.
        OutputExistsError: ``out`` holds a build and ``overwrite`` is false.
        BuildError: The output could not be written.
    """
    builder = dataset if isinstance(dataset, Builder) else get_builder(dataset, **options)
    out_path = Path(out).expanduser() if out is not None else default_out(builder.dataset_name())
    check_output(out_path, overwrite)
    builder, ctx, records = read_raw(builder, raw, num_proc=num_proc, deep=deep, progress=progress)
    report = ctx.report
    if strict and (report.has_errors() or report.has_warnings()):
        sev = report.counts_by_severity()
        first = next(f for f in report.sorted_findings() if f.severity in ("error", "warning"))
        raise ValidationFailedError(
            f"--strict: validation found {sev['error']} errors and {sev['warning']} warnings "
            f"(first: {first.rule}: {first.message}); nothing was written. "
            "Run `rrsis-bench validate` for the full list, or build without --strict."
        )
    inputs = BuildInputs(
        dataset=builder.dataset_name(),
        builder=builder.name,
        builder_version=builder.version,
        card=builder.card_info(),
        raw_files=ctx.raw_files,
        options=builder.manifest_options(),
    )
    kwargs: dict[str, Any] = {}
    if max_shard_bytes is not None:
        kwargs["max_shard_bytes"] = max_shard_bytes
    path = write_dataset(
        out_path,
        records,
        inputs,
        report,
        overwrite=overwrite,
        num_proc=num_proc,
        progress=progress,
        **kwargs,
    )
    return BuildResult(path=path, report=report, records=records, counts=_counts(records))


def validate(
    dataset: str | Builder,
    raw: str | Path,
    *,
    num_proc: int = 1,
    deep: bool = False,
    progress: bool | None = None,
    **options: Any,
) -> BuildResult:
    """Run every validation rule on a raw release without writing anything."""
    _, ctx, records = read_raw(
        dataset, raw, num_proc=num_proc, deep=deep, progress=progress, **options
    )
    return BuildResult(path=None, report=ctx.report, records=records, counts=_counts(records))
