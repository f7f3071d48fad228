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

from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rrsis_bench import masks
from rrsis_bench.errors import PredictionError, UnknownNameError
from rrsis_bench.metrics import (
    CountArrays,
    Protocol,
    SampleCounts,
    count_dense_rle,
    count_on_grid,
    count_rles,
    get_protocol,
    missing_counts,
)
from rrsis_bench.metrics.resize import pil_nearest
from rrsis_bench.predictions import MaskReadError, PredictionSet, open_predictions, read_png_mask
from rrsis_bench.progress import track
from rrsis_bench.schema import TARGET_TYPES, Rle, natural_key, size_bin
from rrsis_bench.score_report import CompareReport, SampleTable, ScoreReport, build_report
from rrsis_bench.store import BuiltDataset, open_dataset

EXCLUSION_LISTS: dict[str, str] = {"rsrefseg2": "excluded_rsrefseg2", "dicor": "excluded_dicor"}
"""``--exclude`` name → the flag the builders set on the listed expressions."""

_GT_COLUMNS = ["image_id", "width", "height", "expressions"]
_WINDOW = 4096


@dataclass(frozen=True)
class GtSample:
    """What scoring needs of one ground-truth expression (``rle`` is dropped once scored)."""

    sample_id: str
    split: str
    rle: dict[str, Any] | None
    target_type: str
    categories: tuple[str, ...]
    size_bin: str
    ref_key: str

    @property
    def gt_empty(self) -> bool:
        """True for a no-target expression."""
        return self.target_type == "none"

    @property
    def mask(self) -> dict[str, Any]:
        """The ground-truth RLE (only while the sample is being scored)."""
        if self.rle is None:
            raise ValueError(f"sample {self.sample_id}: its mask was dropped after scoring")
        return self.rle


@dataclass
class GroundTruth:
    """The scored samples (in dataset order), every id seen, and the ids set aside."""

    samples: list[GtSample] = field(default_factory=list)
    known_ids: set[str] = field(default_factory=set)
    set_aside: dict[str, str] = field(default_factory=dict)
    excluded: dict[str, Any] = field(default_factory=dict)


def iter_ground_truth(
    ds: BuiltDataset,
    splits: Sequence[str],
    gt: GroundTruth,
    *,
    exclude: Sequence[str] = (),
    sample_policy: str = "every-sentence",
) -> Iterator[GtSample]:
    """Stream the scored expressions of ``splits`` in dataset order (annotation columns only).

    ``gt`` is filled on the way: every id seen, the ids set aside (exclusion lists, sample
    policy) and the exclusion counts. Only the sample being yielded holds its mask.

    Args:
        ds: The built dataset.
        splits: Canonical split names.
        gt: Receives what is learnt while streaming (``samples`` is left to the caller).
        exclude: Exclusion lists (``rsrefseg2``, ``dicor``): expressions carrying the list's
            flag are set aside.
        sample_policy: ``first-sentence-per-ref`` keeps the first expression of each ``ref_key``.

    Raises:
        UnknownNameError: If an exclusion list is unknown.
    """
    for name in exclude:
        if name not in EXCLUSION_LISTS:
            raise UnknownNameError("exclusion list", name, list(EXCLUSION_LISTS))
    flags = {EXCLUSION_LISTS[name]: name for name in exclude}
    gt.excluded = {name: {"flag": EXCLUSION_LISTS[name], "n_samples": 0} for name in exclude}
    seen_refs: set[tuple[str, str]] = set()
    for split in splits:
        for row in ds.iter_rows(split, columns=_GT_COLUMNS):
            for e in row["expressions"]:
                sid = e["sample_id"]
                gt.known_ids.add(sid)
                hit = [flags[f] for f in e["flags"] if f in flags]
                if hit:
                    for name in hit:
                        gt.excluded[name]["n_samples"] += 1
                    gt.set_aside[sid] = f"excluded by --exclude {hit[0]}"
                    continue
                tt = e["target_type"]
                target_type = TARGET_TYPES[tt] if isinstance(tt, int) else str(tt)
                ref = (split, e["ref_key"] or sid)
                if sample_policy == "first-sentence-per-ref":
                    if ref in seen_refs:
                        gt.set_aside[sid] = "not the first sentence of its ref (sample policy)"
                        continue
                    seen_refs.add(ref)
                h, w = int(e["mask"]["size"][0]), int(e["mask"]["size"][1])
                yield GtSample(
                    sid,
                    split,
                    {"size": [h, w], "counts": e["mask"]["counts"]},
                    target_type,
                    tuple(e["categories"]),
                    size_bin(int(e["area"]), h, w, target_type),
                    ref[1],
                )


def read_ground_truth(
    ds: BuiltDataset,
    splits: Sequence[str],
    *,
    exclude: Sequence[str] = (),
    sample_policy: str = "every-sentence",
) -> GroundTruth:
    """All scored expressions of ``splits`` with their masks (see :func:`iter_ground_truth`)."""
    gt = GroundTruth()
    gt.samples = list(
        iter_ground_truth(ds, splits, gt, exclude=exclude, sample_policy=sample_policy)
    )
    return gt


# --------------------------------------------------------------------------------------------
# counting


def _hw(shape: Sequence[int]) -> str:
    return f"{shape[0]}x{shape[1]} (height x width)"


def _count_array(
    pred: np.ndarray | None,
    gt: GtSample,
    no_target: bool | None,
    proto: Protocol,
    resize_predictions: bool,
) -> SampleCounts | str:
    gh, gw = gt.mask["size"]
    if pred is not None:
        allowed = {(gh, gw)}
        if proto.resize != "none" and proto.resolution:
            allowed.add((proto.resolution, proto.resolution))
        if tuple(pred.shape) not in allowed:
            if not resize_predictions:
                grid = (
                    f" or {proto.resolution}x{proto.resolution} (the {proto.name} grid)"
                    if len(allowed) > 1
                    else ""
                )
                return (
                    f"wrong size: the prediction is {_hw(pred.shape)}, expected {gh}x{gw} "
                    f"(the ground-truth mask){grid}; pass --resize-predictions to resize "
                    "with nearest neighbour"
                )
            pred = pil_nearest(pred, gh, gw)
    if proto.resize == "none":
        if pred is None or (proto.no_target_rule == "empty-mask" and no_target):
            g = masks.area(gt.mask)
            return SampleCounts(0, g, 0, g, gt.gt_empty, True)
        nt = no_target if proto.no_target_rule == "separate" else None
        return count_dense_rle(pred, gt.mask, gt_empty=gt.gt_empty, no_target=nt)
    return count_on_grid(
        pred, masks.decode(gt.mask), proto, gt_empty=gt.gt_empty, no_target=no_target
    )


def _count_job(job: tuple[Any, ...]) -> SampleCounts | str:
    """Counts of one sample (runs in worker processes): ``(kind, data, no_target, gt, ...)``."""
    kind, data, no_target, gt, proto, resize_predictions = job
    if kind == "missing":
        if proto.resize == "none":
            return missing_counts(masks.area(gt.mask), gt.gt_empty)
        c = count_on_grid(None, masks.decode(gt.mask), proto, gt_empty=gt.gt_empty)
        return missing_counts(c.g, gt.gt_empty)
    if kind == "png":
        try:
            arr: np.ndarray | None = read_png_mask(Path(data))
        except MaskReadError as exc:
            return f"{exc.kind}: {exc}"
    elif kind == "rle":
        arr = masks.decode(data)
    else:
        arr = None
    return _count_array(arr, gt, no_target, proto, resize_predictions)


def _fast(
    pred_rle: Rle | None, gt: GtSample, nt: bool | None, proto: Protocol
) -> SampleCounts | None:
    """Counts without decoding where the protocol scores at the GT size (else ``None``)."""
    if proto.resize != "none":
        return None
    if pred_rle is None or (proto.no_target_rule == "empty-mask" and nt):
        g = masks.area(gt.mask)
        return SampleCounts(0, g, 0, g, gt.gt_empty, True)
    if list(pred_rle["size"]) != list(gt.mask["size"]):
        return None
    return count_rles(
        pred_rle,
        gt.mask,
        gt_empty=gt.gt_empty,
        no_target=nt if proto.no_target_rule == "separate" else None,
    )


def count_samples(
    predictions: PredictionSet,
    ground_truth: Iterable[GtSample],
    gt: GroundTruth,
    protocol: Protocol,
    *,
    allow_missing: bool = False,
    resize_predictions: bool = False,
    num_proc: int = 1,
    total: int | None = None,
    progress: bool | None = None,
) -> tuple[CountArrays, int]:
    """Align predictions with the streamed ground truth and count every sample.

    Args:
        predictions: The prediction set.
        ground_truth: Scored samples in dataset order (e.g. :func:`iter_ground_truth`).
        gt: Receives each scored sample without its mask; must be the state
            ``ground_truth`` fills (ids seen, ids set aside).
        protocol: The protocol (its grid and no-target rule).
        allow_missing: Score a missing prediction as wrong instead of failing.
        resize_predictions: Resize predictions of another size to the GT size.
        num_proc: Processes for PNG decoding and resizing.
        total: Number of samples, for the progress bar.
        progress: Show a progress bar.

    Returns:
        The per-sample counts in dataset order and the number of missing predictions.

    Raises:
        PredictionError: Listing every problem by sample id.
    """
    pred_ids = set(predictions.sample_ids())
    bad = {sid: msg for sid, msg in predictions.problems}
    problems: dict[str, str] = {}
    results: list[SampleCounts | None] = []
    pending: list[tuple[int, tuple[Any, ...]]] = []
    n_missing = 0
    pool = ProcessPoolExecutor(max_workers=num_proc) if num_proc > 1 else None

    def flush() -> None:
        jobs = [job for _, job in pending]
        if pool is not None and len(jobs) > 1:
            out: Iterable[SampleCounts | str] = pool.map(
                _count_job, jobs, chunksize=max(1, len(jobs) // (4 * num_proc))
            )
        else:
            out = map(_count_job, jobs)
        for (idx, _), res in zip(pending, out, strict=True):
            if isinstance(res, str):
                problems[gt.samples[idx].sample_id] = res
            else:
                results[idx] = res
        pending.clear()

    try:
        for idx, s in enumerate(track(ground_truth, "scoring", total, progress)):
            sid = s.sample_id
            gt.samples.append(
                GtSample(sid, s.split, None, s.target_type, s.categories, s.size_bin, s.ref_key)
            )
            results.append(None)
            if sid in bad:
                problems[sid] = bad[sid]
                continue
            if sid not in pred_ids:
                if not allow_missing:
                    problems[sid] = "missing: no prediction for this sample"
                    continue
                n_missing += 1
                pending.append((idx, ("missing", None, None, s, protocol, False)))
            else:
                pred = predictions.get(sid)
                if pred.path is not None:
                    png = ("png", str(pred.path), None, s, protocol, resize_predictions)
                    pending.append((idx, png))
                else:
                    fast = _fast(pred.rle, s, pred.no_target, protocol)
                    if fast is not None:
                        results[idx] = fast
                    else:
                        kind = "rle" if pred.rle is not None else "empty"
                        job = (kind, pred.rle, pred.no_target, s, protocol, resize_predictions)
                        pending.append((idx, job))
            if len(pending) >= _WINDOW:
                flush()
        flush()
    finally:
        if pool is not None:
            pool.shutdown()
    scored = {s.sample_id for s in gt.samples}
    unknown = sorted(
        (sid for sid in pred_ids if sid not in scored and sid not in gt.set_aside),
        key=natural_key,
    )
    listed = [(s.sample_id, problems[s.sample_id]) for s in gt.samples if s.sample_id in problems]
    listed += [(sid, "unknown sample id: not in the scored ground truth") for sid in unknown]
    if listed:
        raise PredictionError(_summary(predictions, listed), listed)
    return CountArrays.from_counts(r for r in results if r is not None), n_missing


def _summary(predictions: PredictionSet, problems: list[tuple[str, str]]) -> str:
    kinds: dict[str, int] = {}
    for _, msg in problems:
        word = msg.split(":", 1)[0]
        word = (
            word
            if word in ("missing", "unknown sample id", "wrong size", "not binary", "unreadable")
            else ("duplicate" if "duplicate" in msg else "invalid")
        )
        kinds[word] = kinds.get(word, 0) + 1
    parts = ", ".join(f"{n} {k}" for k, n in kinds.items())
    hint = (
        "; pass --allow-missing to score missing predictions as wrong"
        if set(kinds) == {"missing"}
        else ""
    )
    return f"{predictions.path}: predictions do not match the ground truth ({parts}){hint}"


# --------------------------------------------------------------------------------------------
# public API


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
        else open_predictions(predictions, format, score_threshold=score_threshold)
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
) -> ScoreReport:
    """Score predictions against a built dataset under a protocol.

    Args:
        predictions: A PNG folder, ``predictions.jsonl``, a COCO-results ``.json`` or an open
            :class:`~rrsis_bench.predictions.PredictionSet`.
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

    Raises:
        PredictionError: If predictions and ground truth do not align (every problem listed).
        DatasetNotFoundError: If the dataset or a split is missing.
        UnknownNameError: For an unknown protocol, format, exclusion list or breakdown.
        FormatError: For a syntax error in a JSON/JSONL file (with the line number).
    """
    proto = get_protocol(protocol, resolution)
    ds = dataset if isinstance(dataset, BuiltDataset) else open_dataset(dataset)
    splits = _splits(ds, split)
    _check_by(by)
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
        **options: Any other keyword of :func:`score` (``allow_missing``, ``exclude``, ...).

    Raises:
        PredictionError: If either prediction set does not align with the ground truth.
    """
    ds = dataset if isinstance(dataset, BuiltDataset) else open_dataset(dataset)
    kw = {"by": (), "n_boot": 0, "seed": seed, **options}
    a = score(predictions_a, ds, split, protocol, **kw)
    b = score(predictions_b, ds, split, protocol, **kw)
    return CompareReport.from_reports(a, b, top=top, n_boot=n_boot, seed=seed)
