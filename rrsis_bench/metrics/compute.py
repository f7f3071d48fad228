"""Metrics from per-sample counts, with each protocol's own arithmetic.

:func:`compute_metrics` turns :class:`~rrsis_bench.metrics.counts.CountArrays` (dataset order)
into oIoU, mIoU, Pr@t and, where the protocol has them, N-acc and T-acc, in percent. Float64
protocols use int64 sums and float64 ratios; float32 protocols replay the peer's float32
accumulation in dataset order. A ratio with a zero denominator, or a NaN the peer would
produce, is returned as ``None`` with the reason in ``undefined``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rrsis_bench.metrics.counts import CountArrays
from rrsis_bench.metrics.protocols import Protocol, pr_key

F32 = np.float32
_INT32_SPAN = 1 << 32


@dataclass
class MetricResult:
    """Metrics of one set of samples under one protocol.

    Attributes:
        values: Metric key → value in percent, or ``None`` where undefined.
        undefined: Metric key → why it is undefined.
        counts: ``n``, ``n_targeted``, ``n_no_target``, ``n_missing``, ``sum_i``, ``sum_u``,
            ``tp``, ``fn``, ``fp``, ``tn`` (GRES convention: no-target is the positive class).
        notes: Facts about this computation (the peer's printed value, an int32 wrap, ...).
    """

    values: dict[str, float | None]
    undefined: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class PerSample:
    """What each sample contributes under a protocol (float64 view).

    ``i``/``u`` are the contributions to ΣI/ΣU after the no-target rule; ``iou`` is the
    per-sample IoU in [0, 1] (NaN where the protocol makes it NaN); ``in_pr`` marks the samples
    in the Pr@t denominator.
    """

    i: np.ndarray
    u: np.ndarray
    iou: np.ndarray
    in_pr: np.ndarray


def per_sample(c: CountArrays, protocol: Protocol) -> PerSample:
    """Per-sample contributions and IoU under ``protocol`` (float64; missing samples score 0)."""
    i = c.i.astype(np.int64)
    u = c.u.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if protocol.no_target_rule == "separate":
            targeted = ~c.gt_empty
            ei = np.where(targeted & ~c.pred_nt, i, 0)
            eu = np.where(targeted | ~c.pred_nt, u, 0)
            iou_t = np.where(eu > 0, ei / np.maximum(eu, 1), 0.0)
            iou = np.where(targeted, iou_t, np.where(c.pred_nt, 1.0, 0.0))
        else:
            ei, eu = i, u
            if protocol.empty_union_rule == "one":
                iou = np.where(u == 0, 1.0, i / (u + protocol.iou_epsilon))
            elif protocol.empty_union_rule == "nan":
                iou = np.where(u == 0, np.nan, i / np.maximum(u, 1))
            else:
                iou = np.where(u == 0, 0.0, i / np.maximum(u, 1))
    iou = np.where(c.missing, 0.0, iou).astype(np.float64)
    in_pr = ~c.gt_empty if protocol.pr_samples == "targeted" else np.ones(len(c), dtype=bool)
    return PerSample(ei, eu, iou, in_pr)


def nt_counts(c: CountArrays) -> dict[str, int]:
    """TP, FN, FP, TN with no-target as the positive class (GRES convention)."""
    ge, pn = c.gt_empty, c.pred_nt
    return {
        "tp": int(np.count_nonzero(ge & pn)),
        "fn": int(np.count_nonzero(ge & ~pn)),
        "fp": int(np.count_nonzero(~ge & pn)),
        "tn": int(np.count_nonzero(~ge & ~pn)),
    }


def _seq32(values: np.ndarray) -> np.float32:
    """Sequential float32 sum in order (``np.sum`` would sum pairwise)."""
    if values.size == 0:
        return F32(0.0)
    return F32(np.cumsum(values.astype(F32), dtype=F32)[-1])


def _seq64(values: np.ndarray) -> float:
    """Sequential float64 sum in order, as a Python running sum computes it."""
    if values.size == 0:
        return 0.0
    return float(np.cumsum(values.astype(np.float64))[-1])


def passes(iou: np.ndarray, t: float, rule: str, dtype: str) -> np.ndarray:
    """Which IoUs pass threshold ``t`` under ``rule`` (in float32 for float32 protocols)."""
    thr = F32(t) if dtype == "float32" else t
    with np.errstate(invalid="ignore"):
        return iou > thr if rule == ">" else iou >= thr


def compute_metrics(
    c: CountArrays,
    protocol: Protocol,
    categories: Sequence[str] | None = None,
    *,
    whole: CountArrays | None = None,
) -> MetricResult:
    """Every metric of ``protocol`` from per-sample counts in dataset order.

    N-acc and T-acc are reported when the scored split(s) hold a no-target sample; within a
    group of samples (``whole`` given), N-acc needs a no-target and T-acc a targeted sample in
    the group, and is null with the reason otherwise.

    Args:
        c: Per-sample counts on the protocol's grid.
        protocol: The protocol whose arithmetic to apply.
        categories: One category per sample (used by ``rsrefseg``'s per-category mean).
        whole: For a breakdown group: the counts of every scored sample the group is part of.
    """
    n = len(c)
    ps = per_sample(c, protocol)
    counts = {
        "n": n,
        "n_targeted": int(np.count_nonzero(~c.gt_empty)),
        "n_no_target": int(np.count_nonzero(c.gt_empty)),
        "n_missing": int(np.count_nonzero(c.missing)),
        "sum_i": int(ps.i.sum()),
        "sum_u": int(ps.u.sum()),
        **nt_counts(c),
    }
    res = MetricResult({k: None for k in protocol.metric_keys}, counts=counts)
    if n == 0:
        for k in res.values:
            res.undefined[k] = "no samples to score"
        return res
    arith = protocol.arithmetic
    if arith in ("native", "gres", "lavt", "lgce"):
        _float64_family(c, ps, protocol, res)
    elif arith == "caris":
        _caris(c, protocol, res)
    elif arith == "segearth-r1":
        _segearth(c, ps, protocol, res)
    elif arith == "rsrefseg":
        _rsrefseg(c, ps, protocol, res, categories)
    else:  # pragma: no cover - guarded by the Protocol type
        raise ValueError(f"unknown arithmetic {arith!r}")
    if protocol.reports_nt_acc:
        _nt_acc(res, protocol, whole)
    return res


def _set(res: MetricResult, key: str, value: float | None, reason: str = "") -> None:
    if value is None or not math.isfinite(value):
        res.values[key] = None
        res.undefined[key] = reason or "the peer's arithmetic gives NaN"
    else:
        res.values[key] = float(value)


def _pr(res: MetricResult, ps: PerSample, protocol: Protocol) -> None:
    denom = int(np.count_nonzero(ps.in_pr))
    for t in protocol.thresholds:
        key = pr_key(t)
        if denom == 0:
            _set(res, key, None, "no targeted sample: Pr@t is over targeted samples only")
            continue
        hits = int(np.count_nonzero(passes(ps.iou, t, protocol.pr_rule, "float64") & ps.in_pr))
        _set(res, key, hits * 100.0 / denom)


def _float64_family(c: CountArrays, ps: PerSample, protocol: Protocol, res: MetricResult) -> None:
    n = len(c)
    si, su = res.counts["sum_i"], res.counts["sum_u"]
    no_union = "ΣU = 0: neither the predictions nor the ground truth have a foreground pixel"
    if protocol.arithmetic == "lgce":
        if su == 0:
            _set(res, "oiou", None, no_union)
        else:
            ret = F32(100) * (F32(si) / F32(su))
            printed = (F32(si) * F32(100)) / F32(su) - F32(1)
            _set(res, "oiou", float(ret))
            res.notes.append(
                f"the peer prints 'overall IoU = {float(printed):.2f}' (oIoU minus 1 point, "
                "zhu-xlab/rrsis train.py line 162); the value it returns is reported"
            )
        _set(res, "miou", 100 * (_seq64(ps.iou) / n))
    else:
        _set(res, "oiou", si * 100.0 / su if su else None, no_union)
        if protocol.arithmetic == "lavt":
            _set(res, "miou", float(np.mean(ps.iou)) * 100.0)
        elif protocol.arithmetic == "gres":
            _set(res, "miou", 100.0 * (_seq64(ps.iou) / n))
        else:
            _set(res, "miou", 100.0 * math.fsum(ps.iou.tolist()) / n)
    _pr(res, ps, protocol)


def _nt_acc(res: MetricResult, protocol: Protocol, whole: CountArrays | None) -> None:
    k = res.counts
    in_split = bool(whole.gt_empty.any()) if whole is not None else k["n_no_target"] > 0
    if not in_split:
        if protocol.arithmetic == "gres":
            res.values["n_acc"] = res.values["t_acc"] = 0.0
            res.notes.append(
                "the split has no no-target sample; the peer then sets N-acc and T-acc to 0"
            )
        else:
            why = "the split has no no-target sample (N-acc and T-acc are reported only then)"
            _set(res, "n_acc", None, why)
            _set(res, "t_acc", None, why)
        return
    scope = "the split" if whole is None else "this group"
    if k["tp"] + k["fn"] == 0:
        _set(res, "n_acc", None, f"{scope} has no no-target sample")
    else:
        _set(res, "n_acc", 100.0 * k["tp"] / (k["tp"] + k["fn"]))
    if k["tn"] + k["fp"] == 0:
        _set(res, "t_acc", None, f"{scope} has no targeted sample")
    else:
        _set(res, "t_acc", 100.0 * k["tn"] / (k["tn"] + k["fp"]))


def _caris(c: CountArrays, protocol: Protocol, res: MetricResult) -> None:
    n, b = len(c), max(1, protocol.batch_size)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou32 = c.i.astype(F32) / c.u.astype(F32)
    iou32 = np.where(c.missing, F32(0), iou32).astype(F32)
    nb = -(-n // b)
    pad = nb * b - n
    iou_b = np.cumsum(np.pad(iou32, (0, pad)).reshape(nb, b), axis=1, dtype=F32)[:, -1]
    i_b = np.pad(c.i, (0, pad)).reshape(nb, b).sum(axis=1)
    u_b = np.pad(c.u, (0, pad)).reshape(nb, b).sum(axis=1)
    acc, cum_i, cum_u = _seq32(iou_b), _seq32(i_b), _seq32(u_b)
    n32 = F32(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        miou = F32(acc / n32) * F32(100)
        oiou = (cum_i * F32(100)) / cum_u
    n_nan = int(np.count_nonzero(np.isnan(iou32)))
    _set(
        res,
        "miou",
        float(miou),
        f"{n_nan} sample(s) have U = 0; the peer's IoU is 0/0 = NaN in float32, so its mIoU is NaN",
    )
    _set(res, "oiou", float(oiou), "ΣU = 0: the peer divides 0 by 0")
    for t in protocol.thresholds:
        hits = F32(np.count_nonzero(passes(iou32, t, protocol.pr_rule, "float32")))
        _set(res, pr_key(t), float((hits * F32(100)) / n32))


def _wrap32(total: int) -> int:
    return (total + (1 << 31)) % _INT32_SPAN - (1 << 31)


def _segearth(c: CountArrays, ps: PerSample, protocol: Protocol, res: MetricResult) -> None:
    n = len(c)
    si_raw, su_raw = int(c.i.sum()), int(c.u.sum())
    si, su = _wrap32(si_raw), _wrap32(su_raw)
    if (si, su) != (si_raw, su_raw):
        res.notes.append(
            f"ΣI or ΣU exceeds 2^31 and wraps in the peer's int32 meters (ΣU {su_raw:,} → {su:,}); "
            "cIoU reproduces the wrapped value"
        )
    _set(res, "oiou", 100.0 * (si / (su + protocol.ciou_epsilon)))
    _set(res, "miou", 100.0 * (_seq64(ps.iou) / n))
    for t in protocol.thresholds:
        hits = int(np.count_nonzero(passes(ps.iou, t, protocol.pr_rule, "float64")))
        _set(res, pr_key(t), 100.0 * hits / n)


def _rsrefseg(
    c: CountArrays,
    ps: PerSample,
    protocol: Protocol,
    res: MetricResult,
    categories: Sequence[str] | None,
) -> None:
    n = len(c)
    i32 = c.i.astype(F32)
    u32 = (c.p.astype(F32) + c.g.astype(F32)) - i32
    with np.errstate(divide="ignore", invalid="ignore"):
        iou32 = i32 / u32
        iou32 = np.where(c.missing, F32(0), iou32).astype(F32)
        ciou = _seq32(i32) / _seq32(u32)
        giou = _seq32(iou32) / F32(n)
    n_nan = int(np.count_nonzero(np.isnan(iou32)))
    _set(res, "oiou", float(ciou) * 100, "ΣU = 0: the peer divides 0 by 0")
    _set(
        res,
        "miou",
        float(giou) * 100,
        f"{n_nan} sample(s) have U = 0; the peer's IoU is 0/0 = NaN, so its gIoU is NaN",
    )
    for t in protocol.thresholds:
        hits = F32(np.count_nonzero(passes(iou32, t, protocol.pr_rule, "float32")))
        _set(res, pr_key(t), float(hits / F32(n)) * 100)
    if categories is not None:
        per_cat: dict[str, list[float]] = {}
        for cat, iou, u in zip(categories, ps.iou.tolist(), c.u.tolist(), strict=True):
            per_cat.setdefault(cat, [])
            if u > 0:
                per_cat[cat].append(iou)
        means = [sum(v) * 100 / len(v) for v in per_cat.values() if v]
        _set(
            res,
            "category_miou",
            sum(means) / len(means) if means else None,
            "every category has only samples with U = 0",
        )
