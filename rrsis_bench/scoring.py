"""Scoring: predictions in → aligned samples → per-sample counts → metrics → report.

Ground truth comes from a built dataset (only the annotation columns are read, never image
bytes). Alignment is strict: missing, unknown, duplicate, unreadable, wrongly sized and
non-binary predictions are all collected and reported together by sample id
(:class:`~rrsis_bench.errors.PredictionError`); ``allow_missing`` scores a missing prediction as
wrong under every rule instead.

Example:
    >>> from rrsis_bench import score                                    # doctest: +SKIP
    >>> report = score("preds.jsonl", "rrsis-d", "test")                 # doctest: +SKIP
    >>> report.metrics["oiou"], report.metrics["miou"]                   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rrsis_bench.alignment import count_samples
from rrsis_bench.errors import UnknownNameError
from rrsis_bench.ground_truth import (
    EXCLUSION_LISTS,
    GroundTruth,
    GtSample,
    iter_ground_truth,
    read_ground_truth,
    verify_ground_truth,
)
from rrsis_bench.metrics import (
    CountArrays,
    Protocol,
    get_protocol,
)
from rrsis_bench.predictions import PredictionSet, open_predictions
from rrsis_bench.score_report import CompareReport, SampleTable, ScoreReport, build_report
from rrsis_bench.store import BuiltDataset, open_dataset

__all__ = [
    "BREAKDOWNS",
    "EXCLUSION_LISTS",
    "GroundTruth",
    "GtSample",
    "compare",
    "count_samples",
    "iter_ground_truth",
    "read_ground_truth",
    "score",
    "verify_ground_truth",
]


def _splits(ds: BuiltDataset, split: str | Sequence[str]) -> list[str]:
    names = [s for s in split.split(",")] if isinstance(split, str) else list(split)
    out: list[str] = []
    for name in names:
        s = ds.check_split(name.strip())
        if s not in out:
            out.append(s)
    return out


def _exclusions(exclude: str | Sequence[str] | None) -> list[str]:
    if not exclude:
        return []
    items = exclude.split(",") if isinstance(exclude, str) else list(exclude)
    return [e.strip().lower() for e in items if e.strip()]


def _table(gt: GroundTruth, counts: CountArrays) -> SampleTable:
    return SampleTable(
        sample_ids=[s.sample_id for s in gt.samples],
        splits=[s.split for s in gt.samples],
        target_types=[s.target_type for s in gt.samples],
        categories=[s.categories for s in gt.samples],
        size_bins=[s.size_bin for s in gt.samples],
        counts=counts,
    )


def _score_table(
    predictions: str | Path | PredictionSet,
    ds: BuiltDataset,
    splits: list[str],
    proto: Protocol,
    *,
    format: str | None,
    score_threshold: float,
    allow_missing: bool,
    exclude: list[str],
    resize_predictions: bool,
    num_proc: int,
    progress: bool | None,
) -> tuple[SampleTable, GroundTruth, PredictionSet, int]:
    gt = GroundTruth()
    stream = iter_ground_truth(ds, splits, gt, exclude=exclude, sample_policy=proto.sample_policy)
    total = sum(int(ds.manifest["splits"][s].get("expressions", 0)) for s in splits)
    preds = (
        predictions
        if isinstance(predictions, PredictionSet)
        else open_predictions(predictions, format, score_threshold=score_threshold, splits=splits)
    )
    try:
        counts, n_missing = count_samples(
            preds,
            stream,
            gt,
            proto,
            allow_missing=allow_missing,
            resize_predictions=resize_predictions,
            num_proc=num_proc,
            total=total,
            progress=progress,
        )
    finally:
        if not isinstance(predictions, PredictionSet):
            preds.close()
    return _table(gt, counts), gt, preds, n_missing


def score(
    predictions: str | Path | PredictionSet,
    dataset: str | Path | BuiltDataset,
    split: str | Sequence[str] = "test",
    protocol: str | Protocol = "native",
    *,
    resolution: int | None = None,
    format: str | None = None,
    score_threshold: float = 0.5,
    allow_missing: bool = False,
    exclude: str | Sequence[str] | None = None,
    resize_predictions: bool = False,
    by: Sequence[str] = ("target_type", "category", "size"),
    n_boot: int = 1000,
    seed: int = 0,
    num_proc: int = 1,
    progress: bool | None = None,
    verify: bool = True,
) -> ScoreReport:
    """Score predictions against a built dataset under a protocol.

    Args:
        predictions: A PNG folder, ``predictions.jsonl``, a COCO-results ``.json``, a folder
            with one of these per split (``<split>/predictions.jsonl``, as ``rrsis-bench
            predict`` writes) or an open :class:`~rrsis_bench.predictions.PredictionSet`.
        dataset: A registered dataset name, a build folder or a :class:`BuiltDataset`.
        split: One split, or several (``"val,test"`` or a list) scored together with a
            per-split breakdown.
        protocol: ``native`` (default) or a compat protocol / alias (``rrsis-bench protocols``).
        resolution: Evaluation grid side for the resizing protocols.
        format: ``png``, ``jsonl`` or ``coco`` (detected from the path by default).
        score_threshold: COCO results: minimum ``score`` of the entries united per sample.
        allow_missing: Score a missing prediction as wrong under every rule (IoU 0; a
            no-target sample counts as missed) instead of failing.
        exclude: Exclusion lists to apply (``rsrefseg2``, ``dicor``).
        resize_predictions: Resize predictions of another size to the GT size with nearest
            neighbour (otherwise a wrong size is an error).
        by: Breakdowns: any of ``target_type``, ``category``, ``size`` (``split`` is added
            when several splits are scored).
        n_boot: Bootstrap replicates for the 95% intervals of oIoU and mIoU (0: none).
        seed: Bootstrap seed.
        num_proc: Processes for decoding PNGs and resizing.
        progress: Show a progress bar (``None``: the process-wide setting).
        verify: Check the scored splits' shards against the sha256 in the manifest first
            (recorded as ``dataset.verified`` in the report).

    Raises:
        PredictionError: If predictions and ground truth do not align (every problem listed).
        IntegrityError: If a shard of a scored split was modified since the build.
        DatasetNotFoundError: If the dataset, a split or a shard is missing.
        UnknownNameError: For an unknown protocol, format, exclusion list or breakdown.
        FormatError: For a syntax error in a JSON/JSONL file (with the line number).
    """
    proto = get_protocol(protocol, resolution)
    ds = dataset if isinstance(dataset, BuiltDataset) else open_dataset(dataset)
    splits = _splits(ds, split)
    _check_by(by)
    if verify:
        verify_ground_truth(ds, splits, progress=progress)
    table, gt, preds, n_missing = _score_table(
        predictions,
        ds,
        splits,
        proto,
        format=format,
        score_threshold=score_threshold,
        allow_missing=allow_missing,
        exclude=_exclusions(exclude),
        resize_predictions=resize_predictions,
        num_proc=num_proc,
        progress=progress,
    )
    return build_report(
        table,
        proto,
        requested=protocol if isinstance(protocol, str) else proto.name,
        dataset=ds,
        verified=verify,
        splits=splits,
        excluded=gt.excluded,
        set_aside=gt.set_aside,
        predictions={"path": str(preds.path), "format": preds.format},
        n_missing=n_missing,
        by=[*by, *(["split"] if len(splits) > 1 else [])],
        n_boot=n_boot,
        seed=seed,
        resize_predictions=resize_predictions,
    )


BREAKDOWNS = ("target_type", "category", "size", "split")


def _check_by(by: Sequence[str]) -> None:
    for b in by:
        if b not in BREAKDOWNS:
            raise UnknownNameError("breakdown", b, BREAKDOWNS)


def compare(
    predictions_a: str | Path,
    predictions_b: str | Path,
    dataset: str | Path | BuiltDataset,
    split: str | Sequence[str] = "test",
    protocol: str | Protocol = "native",
    *,
    top: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
    **options: Any,
) -> CompareReport:
    """Paired comparison of two prediction sets on the same samples (B − A).

    Args:
        predictions_a: The reference predictions.
        predictions_b: The predictions compared with A.
        dataset: Dataset name, folder or :class:`BuiltDataset`.
        split: Split(s) as for :func:`score`.
        protocol: Protocol as for :func:`score`.
        top: How many samples that changed most to list.
        n_boot: Bootstrap replicates for the interval of the difference.
        seed: Bootstrap seed (the same resamples for A and B).
        **options: Any other keyword of :func:`score` (``allow_missing``, ``exclude``,
            ``verify``, ...); the shards are verified once, for both runs.

    Raises:
        PredictionError: If either prediction set does not align with the ground truth.
        IntegrityError: If a shard of a scored split was modified since the build.
    """
    ds = dataset if isinstance(dataset, BuiltDataset) else open_dataset(dataset)
    verify = bool(options.pop("verify", True))
    if verify:
        verify_ground_truth(ds, _splits(ds, split), progress=options.get("progress"))
    kw = {"by": (), "n_boot": 0, "seed": seed, **options, "verify": False}
    a = score(predictions_a, ds, split, protocol, **kw)
    b = score(predictions_b, ds, split, protocol, **kw)
    for report in (a, b):
        report.dataset["verified"] = verify
    return CompareReport.from_reports(a, b, top=top, n_boot=n_boot, seed=seed)
