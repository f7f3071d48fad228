"""Per-sample counts: the few integers every metric is computed from.

For one referring expression, with ``P`` the predicted and ``G`` the ground-truth mask on the
evaluation grid: ``I = |P ∩ G|``, ``U = |P ∪ G|``, ``|P|``, ``|G|``, ``gt_empty`` (the expression
refers to nothing) and ``pred_nt`` (the prediction says "no target": an explicit
``no_target`` wins, otherwise an empty mask). :func:`count_rles` gets them from compressed RLE
without decoding (pycocotools ``merge``/``area``); :func:`count_masks` from arrays.

Example:
    >>> import numpy as np
    >>> from rrsis_bench import masks
    >>> g = np.zeros((4, 4), np.uint8); g[:2, :2] = 1
    >>> p = np.zeros((4, 4), np.uint8); p[:2, 1:3] = 1
    >>> count_masks(p, g)
    SampleCounts(i=2, u=6, p=4, g=4, gt_empty=False, pred_nt=False, missing=False)
    >>> count_rles(masks.encode(p), masks.encode(g)) == count_masks(p, g)
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as coco_mask

from rrsis_bench.masks import rle_runs
from rrsis_bench.metrics.protocols import Protocol
from rrsis_bench.metrics.resize import to_grid
from rrsis_bench.schema import Rle


@dataclass(frozen=True, slots=True)
class SampleCounts:
    """The integers one sample contributes (``missing``: no prediction, scored as wrong)."""

    i: int
    u: int
    p: int
    g: int
    gt_empty: bool = False
    pred_nt: bool = False
    missing: bool = False


def _pred_nt(no_target: bool | None, p: int) -> bool:
    return bool(no_target) if no_target is not None else p == 0


def count_masks(
    pred: np.ndarray,
    gt: np.ndarray,
    *,
    gt_empty: bool = False,
    no_target: bool | None = None,
) -> SampleCounts:
    """Counts of two same-shaped masks (nonzero is foreground).

    Raises:
        ValueError: If the shapes differ.
    """
    if pred.shape != gt.shape:
        raise ValueError(f"Expected masks of one shape, but got {pred.shape} and {gt.shape}")
    pb = pred if pred.dtype == np.bool_ else pred != 0
    gb = gt if gt.dtype == np.bool_ else gt != 0
    i = int(np.count_nonzero(np.logical_and(pb, gb)))
    p = int(np.count_nonzero(pb))
    g = int(np.count_nonzero(gb))
    return SampleCounts(i, p + g - i, p, g, gt_empty, _pred_nt(no_target, p))


def _coco(rle: Rle | dict[str, Any]) -> dict[str, Any]:
    counts = rle["counts"]
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": counts}


def count_rles(
    pred: Rle | dict[str, Any],
    gt: Rle | dict[str, Any],
    *,
    gt_empty: bool = False,
    no_target: bool | None = None,
) -> SampleCounts:
    """Counts of two compressed RLEs of one size, computed without decoding.

    Raises:
        ValueError: If the sizes differ.
    """
    pc, gc = _coco(pred), _coco(gt)
    if pc["size"] != gc["size"]:
        raise ValueError(f"Expected masks of one size, but got {pc['size']} and {gc['size']}")
    p, g = (int(a) for a in coco_mask.area([pc, gc]))
    i = int(coco_mask.area(coco_mask.merge([pc, gc], intersect=True))) if p and g else 0
    return SampleCounts(i, p + g - i, p, g, gt_empty, _pred_nt(no_target, p))


def count_dense_rle(
    pred: np.ndarray,
    gt: Rle | dict[str, Any],
    *,
    gt_empty: bool = False,
    no_target: bool | None = None,
) -> SampleCounts:
    """Counts of a dense prediction against an RLE ground truth of the same size.

    The ground truth is expanded from its runs (column-major) and compared with the prediction
    inside the ground truth's bounding columns and rows only, so no full decode, transpose or
    copy of the prediction is made.

    Raises:
        ValueError: If the sizes differ or the RLE is corrupt.
    """
    h, w = int(gt["size"][0]), int(gt["size"][1])
    if pred.shape != (h, w):
        raise ValueError(f"Expected masks of one shape, but got {pred.shape} and {(h, w)}")
    counts = gt["counts"]
    runs = rle_runs(counts)
    if runs is None or int(runs.sum()) != h * w:
        raise ValueError("corrupt ground-truth RLE")
    p = int(np.count_nonzero(pred))
    fg = runs[1::2]
    g = int(fg.sum())
    i = 0
    if p and g:
        ends = np.cumsum(runs)
        fg_ends = ends[1::2][fg > 0]
        fg_starts = fg_ends - fg[fg > 0]
        x0, x1 = int(fg_starts[0]) // h, (int(fg_ends[-1]) - 1) // h + 1
        flat = np.repeat((np.arange(runs.size) & 1).astype(np.bool_), runs)
        cols = flat[x0 * h : x1 * h].reshape(x1 - x0, h)  # G^T for columns x0..x1
        rows = np.flatnonzero(cols.any(axis=0))
        y0, y1 = int(rows[0]), int(rows[-1]) + 1
        box = pred[y0:y1, x0:x1].T
        box = box if box.dtype == np.bool_ else box != 0
        i = int(np.count_nonzero(np.logical_and(box, cols[:, y0:y1])))
    return SampleCounts(i, p + g - i, p, g, gt_empty, _pred_nt(no_target, p))


def count_on_grid(
    pred: np.ndarray | None,
    gt: np.ndarray,
    protocol: Protocol,
    *,
    gt_empty: bool = False,
    no_target: bool | None = None,
) -> SampleCounts:
    """Counts on the protocol's evaluation grid, applying its no-target rule.

    ``gt`` is at its own size; ``pred`` is at the GT size or already on the grid (the caller
    checks which). Under an ``empty-mask`` protocol an explicit ``no_target: true`` is scored as
    an empty prediction; ``pred=None`` means an empty prediction.
    """
    g_grid = to_grid(gt, protocol)
    if pred is None or (protocol.no_target_rule == "empty-mask" and no_target):
        g = int(np.count_nonzero(g_grid))
        return SampleCounts(0, g, 0, g, gt_empty, True)
    p_grid = (
        pred if pred.shape == g_grid.shape and pred.shape != gt.shape else to_grid(pred, protocol)
    )
    nt = None if protocol.no_target_rule == "empty-mask" else no_target
    return count_masks(p_grid, g_grid, gt_empty=gt_empty, no_target=nt)


def missing_counts(g: int, gt_empty: bool) -> SampleCounts:
    """Counts of a sample without prediction: an empty mask that is wrong under every rule.

    A targeted sample counts as predicted no-target (an FP), a no-target sample as predicted
    targeted (an FN), and its IoU is forced to 0 by the metric code.
    """
    return SampleCounts(0, g, 0, g, gt_empty, pred_nt=not gt_empty, missing=True)


@dataclass
class CountArrays:
    """Per-sample counts of many samples as numpy arrays (dataset order)."""

    i: np.ndarray
    u: np.ndarray
    p: np.ndarray
    g: np.ndarray
    gt_empty: np.ndarray
    pred_nt: np.ndarray
    missing: np.ndarray

    @classmethod
    def from_counts(cls, counts: Iterable[SampleCounts]) -> CountArrays:
        """Stack :class:`SampleCounts` into arrays."""
        rows = list(counts)
        ints = np.array([(c.i, c.u, c.p, c.g) for c in rows], dtype=np.int64).reshape(-1, 4)
        flags = np.array([(c.gt_empty, c.pred_nt, c.missing) for c in rows], dtype=bool)
        flags = flags.reshape(-1, 3)
        return cls(
            ints[:, 0], ints[:, 1], ints[:, 2], ints[:, 3], flags[:, 0], flags[:, 1], flags[:, 2]
        )

    def __len__(self) -> int:
        return int(self.i.shape[0])

    def take(self, index: Sequence[int] | np.ndarray) -> CountArrays:
        """The samples at ``index`` (in that order)."""
        ix = np.asarray(index, dtype=np.int64)
        return CountArrays(
            self.i[ix],
            self.u[ix],
            self.p[ix],
            self.g[ix],
            self.gt_empty[ix],
            self.pred_nt[ix],
            self.missing[ix],
        )
