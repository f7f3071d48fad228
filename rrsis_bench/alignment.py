"""Aligning predictions with the ground truth and counting every sample.

Problems are collected, never raised one at a time: missing, unknown, duplicate, unreadable,
wrongly sized and non-binary predictions all end up in one
:class:`~rrsis_bench.errors.PredictionError`, listed by sample id in dataset order. PNG decoding
and resizing run in ``num_proc`` worker processes, in windows of samples; RLE predictions under
a protocol that scores at the ground-truth size are counted without decoding.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from rrsis_bench import masks
from rrsis_bench.errors import PredictionError
from rrsis_bench.ground_truth import GroundTruth, GtSample
from rrsis_bench.metrics import (
    CountArrays,
    Protocol,
    SampleCounts,
    count_dense_rle,
    count_on_grid,
    count_rles,
    missing_counts,
)
from rrsis_bench.metrics.resize import pil_nearest
from rrsis_bench.predictions import MaskReadError, PredictionSet, read_png_mask
from rrsis_bench.progress import track
from rrsis_bench.schema import Rle, natural_key

_WINDOW = 4096


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
            elif (where := predictions.split_of(sid)) not in (None, s.split):
                problems[sid] = (
                    f"wrong split: its prediction is in {where}/, but the sample is in {s.split}"
                )
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
            if word
            in (
                "missing",
                "unknown sample id",
                "wrong size",
                "wrong split",
                "not binary",
                "unreadable",
            )
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


def write_problems(problems: Sequence[tuple[str, str]], path: str | Path) -> Path:
    """Write alignment problems as JSON lines ``{"sample_id": ..., "problem": ...}``.

    Args:
        problems: ``(sample_id, problem)`` pairs, e.g. :attr:`PredictionError.problems`.
        path: The file to write (replaced; an empty file when there is no problem).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8") as f:
        for sid, why in problems:
            f.write(json.dumps({"sample_id": sid, "problem": why}, ensure_ascii=False) + "\n")
    return p
