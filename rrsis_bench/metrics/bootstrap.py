"""Seeded percentile bootstrap intervals for oIoU and mIoU, and paired comparisons.

Samples are resampled with replacement; each replicate recomputes oIoU (``100·ΣI/ΣU``) and
mIoU (``100·mean IoU``) from the per-sample values of the protocol
(:func:`rrsis_bench.metrics.compute.per_sample`). A paired comparison draws the same
resample for both prediction sets and reports the interval of the difference ``B − A``.

Example:
    >>> import numpy as np
    >>> i = np.array([5, 0, 8, 2]); u = np.array([10, 4, 8, 4])
    >>> ci = bootstrap_ci(i, u, i / u, n_boot=200, seed=0)
    >>> sorted(ci), ci["method"]
    (['method', 'miou', 'n_boot', 'oiou', 'seed'], 'percentile')
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

_MAX_CELLS = 2_000_000


def _resamples(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    chunk = max(1, _MAX_CELLS // max(1, n))
    done = 0
    while done < n_boot:
        m = min(chunk, n_boot - done)
        yield rng.integers(0, n, size=(m, n))
        done += m


def _stats(i: np.ndarray, u: np.ndarray, iou: np.ndarray, idx: np.ndarray) -> np.ndarray:
    si = i[idx].sum(axis=1).astype(np.float64)
    su = u[idx].sum(axis=1).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        oiou = np.where(su > 0, 100.0 * si / su, np.nan)
    miou = 100.0 * iou[idx].mean(axis=1)
    return np.stack([oiou, miou], axis=1)


def _interval(values: np.ndarray, alpha: float) -> list[float] | None:
    if values.size == 0 or not np.all(np.isfinite(values)):
        return None
    lo, hi = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return [float(lo), float(hi)]


def bootstrap_ci(
    i: np.ndarray,
    u: np.ndarray,
    iou: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Percentile bootstrap interval (``1 − alpha``) of oIoU and mIoU.

    Args:
        i: Per-sample contributions to ΣI.
        u: Per-sample contributions to ΣU.
        iou: Per-sample IoU in [0, 1] (NaN makes the mIoU interval ``None``).
        n_boot: Number of bootstrap replicates.
        seed: Seed of ``numpy.random.default_rng``.
        alpha: 0.05 gives a 95% interval.

    Returns:
        ``{"seed", "n_boot", "method", "oiou": [lo, hi] | None, "miou": [lo, hi] | None}``.
    """
    n = len(i)
    out: dict[str, Any] = {"seed": seed, "n_boot": n_boot, "method": "percentile"}
    if n == 0 or n_boot <= 0:
        out["oiou"] = out["miou"] = None
        return out
    reps = np.concatenate([_stats(i, u, iou, idx) for idx in _resamples(n, n_boot, seed)])
    out["oiou"] = _interval(reps[:, 0], alpha)
    out["miou"] = _interval(reps[:, 1], alpha)
    return out


def paired_bootstrap(
    a: tuple[np.ndarray, np.ndarray, np.ndarray],
    b: tuple[np.ndarray, np.ndarray, np.ndarray],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Interval of the paired difference ``B − A`` of oIoU and mIoU (same resamples for both).

    Args:
        a: ``(i, u, iou)`` per sample of prediction set A.
        b: The same for prediction set B, on the same samples in the same order.
        n_boot: Number of bootstrap replicates.
        seed: Seed of ``numpy.random.default_rng``.
        alpha: 0.05 gives a 95% interval.

    Returns:
        ``{"seed", "n_boot", "method", "oiou": [lo, hi] | None, "miou": [lo, hi] | None}``.
    """
    n = len(a[0])
    if len(b[0]) != n:
        raise ValueError(f"Expected paired samples, but got {n} and {len(b[0])}")
    out: dict[str, Any] = {"seed": seed, "n_boot": n_boot, "method": "paired percentile"}
    if n == 0 or n_boot <= 0:
        out["oiou"] = out["miou"] = None
        return out
    diffs = [_stats(*b, idx) - _stats(*a, idx) for idx in _resamples(n, n_boot, seed)]
    reps = np.concatenate(diffs)
    out["oiou"] = _interval(reps[:, 0], alpha)
    out["miou"] = _interval(reps[:, 1], alpha)
    return out
