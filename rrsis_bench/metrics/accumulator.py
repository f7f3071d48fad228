"""A streaming accumulator for training and validation loops (no torch needed).

Its state is a vector of sums, so a distributed run adds the vectors of all ranks (for
example with ``torch.distributed.all_reduce``) and computes once. The per-sample rules
(empty union, no-target, thresholds, resizing) are the protocol's; the sums are int64/float64,
so float32 protocols agree with the peer's float32 accumulation to float32 rounding only.

Example:
    >>> import numpy as np
    >>> acc = MetricAccumulator()
    >>> gt = np.zeros((2, 4, 4), np.uint8); gt[:, :2, :2] = 1
    >>> pred = gt.copy(); pred[1] = 0
    >>> acc.update(pred, gt)
    >>> m = acc.compute()
    >>> m["oiou"], m["miou"], m["pr@0.5"]
    (50.0, 50.0, 50.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rrsis_bench.metrics.compute import nt_counts, passes, per_sample
from rrsis_bench.metrics.counts import CountArrays, count_on_grid
from rrsis_bench.metrics.protocols import Protocol, get_protocol, pr_key

_FIELDS = ("n", "n_targeted", "n_no_target", "sum_i", "sum_u", "sum_iou", "n_nan", "n_pr")
_NT = ("tp", "fn", "fp", "tn")


def _as_array(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):  # a torch tensor, without importing torch
        x = x.detach().cpu().numpy()
    return np.asarray(x)


class MetricAccumulator:
    """Accumulate per-sample counts batch by batch; :meth:`compute` returns the metrics.

    Args:
        protocol: Protocol name, alias or :class:`Protocol` (default ``native``).
        resolution: Evaluation grid side for resizing protocols.
    """

    def __init__(self, protocol: str | Protocol = "native", resolution: int | None = None):
        self.protocol = get_protocol(protocol, resolution)
        self._n_thr = len(self.protocol.thresholds)
        self.reset()

    def reset(self) -> None:
        """Forget everything accumulated."""
        self._state = np.zeros(len(_FIELDS) + len(_NT) + self._n_thr, dtype=np.float64)

    def update(
        self,
        pred: Any,
        gt: Any,
        *,
        gt_empty: bool | Sequence[bool] | None = None,
        no_target: bool | Sequence[bool | None] | None = None,
    ) -> None:
        """Add one sample (``H×W``) or a batch (``B×H×W``) of binary masks.

        Args:
            pred: Predicted masks (nonzero is foreground); numpy arrays or torch tensors.
            gt: Ground-truth masks of the same shape (or at the GT size under a resizing
                protocol, with ``pred`` either at that size or already on the grid).
            gt_empty: Whether each sample is a no-target expression; by default a sample
                whose ground truth has no foreground pixel is taken as no-target.
            no_target: Explicit no-target decisions (win over the mask); default: empty mask.

        Raises:
            ValueError: If the shapes do not match.
        """
        p, g = _as_array(pred), _as_array(gt)
        if p.ndim == 2:
            p, g = p[None], g[None]
        if p.ndim != 3 or g.ndim != 3 or p.shape[0] != g.shape[0]:
            raise ValueError(
                f"Expected pred and gt of shape (H, W) or (B, H, W), but got {p.shape} and {g.shape}"
            )
        b = p.shape[0]
        empties = _per_sample_flags(gt_empty, b, [not g[k].any() for k in range(b)])
        nts = _per_sample_flags(no_target, b, [None] * b)
        counts = []
        for k in range(b):
            if self.protocol.resize == "none" and p[k].shape != g[k].shape:
                raise ValueError(
                    f"Expected pred and gt of one shape under protocol {self.protocol.name}, "
                    f"but got {p[k].shape} and {g[k].shape}"
                )
            counts.append(
                count_on_grid(p[k], g[k], self.protocol, gt_empty=empties[k], no_target=nts[k])
            )
        self._add(CountArrays.from_counts(counts))

    def _add(self, c: CountArrays) -> None:
        ps = per_sample(c, self.protocol)
        nan = np.isnan(ps.iou)
        head = [
            len(c),
            np.count_nonzero(~c.gt_empty),
            np.count_nonzero(c.gt_empty),
            ps.i.sum(),
            ps.u.sum(),
            ps.iou[~nan].sum(),
            np.count_nonzero(nan),
            np.count_nonzero(ps.in_pr),
        ]
        nt = list(nt_counts(c).values())
        hits = [
            np.count_nonzero(
                passes(ps.iou, t, self.protocol.pr_rule, self.protocol.dtype) & ps.in_pr
            )
            for t in self.protocol.thresholds
        ]
        self._state += np.array(head + nt + hits, dtype=np.float64)

    def state_vector(self) -> np.ndarray:
        """The state as one float64 vector of sums (all-reduce it with SUM across ranks)."""
        return self._state.copy()

    def load_state_vector(self, state: Any) -> None:
        """Replace the state, e.g. by the all-reduced sum of every rank's vector."""
        s = _as_array(state).astype(np.float64).ravel()
        if s.shape != self._state.shape:
            raise ValueError(f"Expected a state of shape {self._state.shape}, but got {s.shape}")
        self._state = s.copy()

    def merge(self, other: MetricAccumulator) -> None:
        """Add another accumulator's state (same protocol) to this one."""
        if other.protocol != self.protocol:
            raise ValueError("Expected accumulators of one protocol, but got two different ones")
        self._state += other._state

    def compute(self) -> dict[str, float | None]:
        """The protocol's metrics in percent (``None`` where a denominator is zero or NaN arises)."""
        s = dict(zip(_FIELDS + _NT, self._state.tolist(), strict=False))
        hits = self._state[len(_FIELDS) + len(_NT) :]
        proto = self.protocol
        out: dict[str, float | None] = {k: None for k in proto.metric_keys}
        n = s["n"]
        if n == 0:
            return out
        su = s["sum_u"] + proto.ciou_epsilon
        out["oiou"] = 100.0 * s["sum_i"] / su if su > 0 else None
        out["miou"] = None if s["n_nan"] else 100.0 * s["sum_iou"] / n
        for t, h in zip(proto.thresholds, hits.tolist(), strict=True):
            out[pr_key(t)] = 100.0 * h / s["n_pr"] if s["n_pr"] else None
        if proto.reports_nt_acc:
            if s["n_no_target"] == 0:
                zero = 0.0 if proto.arithmetic == "gres" else None
                out["n_acc"] = out["t_acc"] = zero
            else:
                out["n_acc"] = 100.0 * s["tp"] / (s["tp"] + s["fn"])
                denom = s["tn"] + s["fp"]
                out["t_acc"] = 100.0 * s["tn"] / denom if denom else None
        return out


def _per_sample_flags(value: Any, b: int, default: list[Any]) -> list[Any]:
    if value is None:
        return default
    if isinstance(value, (bool, np.bool_)):
        return [bool(value)] * b
    values = [None if v is None else bool(v) for v in _as_array(value).tolist()]
    if len(values) != b:
        raise ValueError(f"Expected {b} per-sample flags, but got {len(values)}")
    return values
