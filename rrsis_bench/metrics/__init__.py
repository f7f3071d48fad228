"""Metrics of referring segmentation: per-sample counts → every metric, under named protocols.

Definitions (shared by every module, the CLI and the README). Per sample (one referring
expression), with ``P`` the predicted and ``G`` the ground-truth mask on the evaluation grid:
``I = |P ∩ G|``, ``U = |P ∪ G|``; ``gt_empty``: the expression refers to nothing (target type
``none``); ``pred_nt``: the prediction says "no target" (an explicit ``no_target`` wins,
otherwise an empty mask). All metrics are in percent.

========  =====================================================  ===============================
name      aliases                                                 definition
========  =====================================================  ===============================
oIoU      overall IoU (LAVT, RMSIN), cIoU (GRES, RSRefSeg,        100 · ΣI / ΣU
          SegEarth-R1)
mIoU      mean IoU (LAVT), gIoU (GRES, RSRefSeg, LISA)            100 · mean_i IoU_i
Pr@t      precision@t, P@t, seg_acc_t (t = .5, .6, .7, .8, .9)    100 · share of samples with
                                                                  IoU_i ≥ t (``>`` in some peers)
N-acc     no-target accuracy (GRES)                               100 · TP / (TP + FN)
T-acc     target accuracy (GRES)                                  100 · TN / (TN + FP)
========  =====================================================  ===============================

N-acc and T-acc use the GRES sign convention: the no-target class is "positive", so
TP = gt_empty ∧ pred_nt, FN = gt_empty ∧ ¬pred_nt, FP = ¬gt_empty ∧ pred_nt,
TN = ¬gt_empty ∧ ¬pred_nt. DiCoR uses "gIoU" for the cumulative ratio: read a paper's code.

Under the default protocol ``native`` masks are scored at the ground truth's own size; a
targeted sample has IoU ``I/U`` (0 when ``U = 0``), and ``I = 0`` if it is predicted as
no-target (it still adds ``|P ∪ G|`` to ΣU); a no-target sample has IoU 1 if predicted as
no-target (adding nothing), else 0 (adding ``|P|`` to ΣU). Pr@t uses ``≥`` over all samples.
Compat protocols (``lavt`` with aliases ``rmsin``, ``remotesam`` (896), ``rs2sam2`` (1024);
``lgce``; ``caris``; ``gres`` alias ``rela``; ``segearth-r1`` alias ``lisa``; ``rsrefseg``
alias ``rsrefseg2``) reproduce each peer's evaluation code; see
:mod:`rrsis_bench.metrics.protocols`.

Example:
    >>> import numpy as np
    >>> from rrsis_bench.metrics import CountArrays, compute_metrics, count_masks, get_protocol
    >>> g = np.zeros((4, 4), np.uint8); g[:2, :2] = 1
    >>> c = CountArrays.from_counts([count_masks(g, g), count_masks(np.zeros_like(g), g)])
    >>> r = compute_metrics(c, get_protocol("native"))
    >>> r.values["oiou"], r.values["miou"], r.values["pr@0.5"]
    (50.0, 50.0, 50.0)
"""

from __future__ import annotations

from rrsis_bench.masks import rle_runs
from rrsis_bench.metrics.accumulator import MetricAccumulator
from rrsis_bench.metrics.bootstrap import bootstrap_ci, paired_bootstrap
from rrsis_bench.metrics.compute import MetricResult, PerSample, compute_metrics, per_sample
from rrsis_bench.metrics.counts import (
    CountArrays,
    SampleCounts,
    count_dense_rle,
    count_masks,
    count_on_grid,
    count_rles,
    missing_counts,
)
from rrsis_bench.metrics.protocols import (
    ALIASES,
    PROTOCOLS,
    Protocol,
    get_protocol,
    list_protocols,
    pr_key,
)

METRIC_NAMES: dict[str, tuple[str, str]] = {
    "oiou": ("oIoU", "overall IoU, cIoU"),
    "miou": ("mIoU", "mean IoU, gIoU"),
    "pr@0.5": ("Pr@0.5", "precision@0.5, seg_acc_0.5"),
    "pr@0.6": ("Pr@0.6", "precision@0.6, seg_acc_0.6"),
    "pr@0.7": ("Pr@0.7", "precision@0.7, seg_acc_0.7"),
    "pr@0.8": ("Pr@0.8", "precision@0.8, seg_acc_0.8"),
    "pr@0.9": ("Pr@0.9", "precision@0.9, seg_acc_0.9"),
    "n_acc": ("N-acc", "no-target accuracy, TP/(TP+FN), no-target = positive (GRES)"),
    "t_acc": ("T-acc", "target accuracy, TN/(TN+FP), no-target = positive (GRES)"),
    "category_miou": ("category mIoU", "RSRefSeg2 per-category mean IoU"),
}
"""Metric key → (display name, aliases)."""

__all__ = [
    "ALIASES",
    "METRIC_NAMES",
    "PROTOCOLS",
    "CountArrays",
    "MetricAccumulator",
    "MetricResult",
    "PerSample",
    "Protocol",
    "SampleCounts",
    "bootstrap_ci",
    "compute_metrics",
    "count_dense_rle",
    "count_masks",
    "count_on_grid",
    "count_rles",
    "get_protocol",
    "list_protocols",
    "missing_counts",
    "paired_bootstrap",
    "per_sample",
    "pr_key",
    "rle_runs",
]
