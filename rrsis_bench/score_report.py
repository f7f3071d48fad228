"""Score reports: the typed result of :func:`rrsis_bench.score` and its JSON form.

The JSON schema is ``rrsis-bench/score/1`` (see the README's Scoring section): the protocol
with all its rules, the dataset, split(s), sample count, ``gt_sha256`` from the manifest as
``{split: sha256}`` and whether the shards were verified against it, the metrics in percent (undefined values as ``null`` with the reason under
``undefined``, never NaN), bootstrap intervals, breakdowns and the counts they come from.
A paired comparison of two prediction sets is ``rrsis-bench/compare/1``.
"""

from __future__ import annotations

import csv
import datetime as _dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rrsis_bench import __version__
from rrsis_bench.errors import FormatError
from rrsis_bench.metrics import (
    CountArrays,
    Protocol,
    bootstrap_ci,
    compute_metrics,
    paired_bootstrap,
    per_sample,
)
from rrsis_bench.schema import SIZE_BIN_EDGES, SIZE_BIN_LABELS, SPLITS, TARGET_TYPES, natural_key
from rrsis_bench.store import BuiltDataset

SCORE_SCHEMA = "rrsis-bench/score/1"
COMPARE_SCHEMA = "rrsis-bench/compare/1"
NO_CATEGORY = "(none)"


@dataclass
class SampleTable:
    """Per-sample state of a scored set (a few hundred bytes per sample, no masks)."""

    sample_ids: list[str]
    splits: list[str]
    target_types: list[str]
    categories: list[tuple[str, ...]]
    size_bins: list[str]
    counts: CountArrays

    def first_categories(self) -> list[str]:
        """The first category of each sample (``none`` when it has none, as RSRefSeg2 does)."""
        return [c[0] if c else "none" for c in self.categories]


def _group_result(table: SampleTable, index: list[int], proto: Protocol) -> dict[str, Any]:
    cats = table.first_categories()
    res = compute_metrics(
        table.counts.take(index), proto, [cats[k] for k in index], whole=table.counts
    )
    return {
        "n": len(index),
        "metrics": res.values,
        "undefined": res.undefined,
        "counts": res.counts,
    }


def _breakdown(table: SampleTable, key: str, proto: Protocol) -> dict[str, Any]:
    groups: dict[str, list[int]] = {}
    if key == "category":
        for k, cats in enumerate(table.categories):
            for c in dict.fromkeys(cats or (NO_CATEGORY,)):
                groups.setdefault(c, []).append(k)
        order = sorted(groups, key=natural_key)
    else:
        values = {
            "target_type": table.target_types,
            "size": table.size_bins,
            "split": table.splits,
        }[key]
        for k, v in enumerate(values):
            groups.setdefault(v, []).append(k)
        canon = {"target_type": TARGET_TYPES, "size": SIZE_BIN_LABELS, "split": SPLITS}[key]
        order = [v for v in canon if v in groups]
    out: dict[str, Any] = {}
    if key == "size":
        out["bins"] = list(SIZE_BIN_LABELS)
        out["edges"] = list(SIZE_BIN_EDGES)
        out["basis"] = "ground-truth mask area / mask height x width; 'none' = no-target"
    if key == "category":
        out["note"] = "an expression with several categories counts in each of them"
    for v in order:
        out[v] = _group_result(table, groups[v], proto)
    return out


@dataclass
class ScoreReport:
    """The result of scoring one prediction set.

    Attributes:
        protocol: The protocol applied (with every rule).
        requested_protocol: The name asked for (an alias stays visible).
        dataset: ``name``, ``path``, ``split``, ``n_samples``, ``gt_sha256``, ``verified``
            (whether the shards were checked against the manifest's sha256), ``excluded``.
        metrics: Metric key → percent or ``None``.
        undefined: Metric key → why it is ``None``.
        counts: ``sum_i``, ``sum_u``, ``tp``, ``fn``, ``fp``, ``tn`` and sample counts.
        ci: Bootstrap intervals (``None`` when not computed).
        breakdowns: Breakdown name → group → ``{n, metrics, undefined, counts}``.
        missing: Missing predictions scored as wrong (``allow_missing``).
        ignored: Predictions not scored because their sample was set aside, by reason.
        notes: Facts a reader must know (peer printouts, wraps, resizing of predictions).
        predictions: ``path`` and ``format`` of the predictions.
        table: Per-sample counts (not in the JSON; see :meth:`write_per_sample`).
    """

    protocol: Protocol
    requested_protocol: str
    dataset: dict[str, Any]
    metrics: dict[str, float | None]
    undefined: dict[str, str]
    counts: dict[str, int]
    ci: dict[str, Any] | None
    breakdowns: dict[str, Any]
    missing: int
    ignored: dict[str, int]
    notes: list[str]
    predictions: dict[str, str]
    table: SampleTable
    created: str = field(
        default_factory=lambda: _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    )
    toolkit_version: str = __version__

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON-ready dict in schema ``rrsis-bench/score/1``."""
        protocol = self.protocol.to_dict()
        protocol["requested_as"] = self.requested_protocol
        return {
            "schema": SCORE_SCHEMA,
            "toolkit_version": self.toolkit_version,
            "created": self.created,
            "protocol": protocol,
            "dataset": self.dataset,
            "predictions": self.predictions,
            "metrics": self.metrics,
            "undefined": self.undefined,
            "ci": self.ci,
            "breakdowns": self.breakdowns,
            "missing": self.missing,
            "ignored": self.ignored,
            "counts": self.counts,
            "notes": self.notes,
        }

    def dumps(self) -> str:
        """The JSON text (NaN never appears: undefined values are null)."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def write_json(self, path: str | Path) -> Path:
        """Write the JSON report."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(self.dumps(), encoding="utf-8")
        return p

    def per_sample_rows(self) -> list[dict[str, Any]]:
        """One dict per sample: id, split, target type, categories, size bin, counts, IoU.

        ``i`` and ``u`` are the sample's own ``|P ∩ G|`` and ``|P ∪ G|`` on the evaluation grid;
        ``sum_i`` and ``sum_u`` are what it adds to ΣI and ΣU under the protocol's no-target
        rule, so their column sums are the report's ``counts.sum_i`` and ``counts.sum_u``.
        """
        t = self.table
        ps = per_sample(t.counts, self.protocol)
        iou = ps.iou
        rows = []
        for k, sid in enumerate(t.sample_ids):
            v = float(iou[k])
            rows.append(
                {
                    "sample_id": sid,
                    "split": t.splits[k],
                    "target_type": t.target_types[k],
                    "category": "|".join(t.categories[k]),
                    "size_bin": t.size_bins[k],
                    "i": int(t.counts.i[k]),
                    "u": int(t.counts.u[k]),
                    "sum_i": int(ps.i[k]),
                    "sum_u": int(ps.u[k]),
                    "pred_area": int(t.counts.p[k]),
                    "gt_area": int(t.counts.g[k]),
                    "iou": v if math.isfinite(v) else None,
                    "gt_empty": bool(t.counts.gt_empty[k]),
                    "pred_nt": bool(t.counts.pred_nt[k]),
                    "missing": bool(t.counts.missing[k]),
                }
            )
        return rows

    def write_per_sample(self, path: str | Path) -> Path:
        """Write per-sample rows as ``.csv``, ``.json`` (a list) or ``.jsonl``.

        Raises:
            FormatError: If the file name has another extension (nothing is written).
        """
        p = check_per_sample_path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        rows = self.per_sample_rows()
        if p.suffix.lower() == ".csv":
            with open(p, "w", newline="", encoding="utf-8") as f:
                fields = list(rows[0]) if rows else ["sample_id"]
                writer = csv.DictWriter(f, fieldnames=fields)
                writer.writeheader()
                for r in rows:
                    writer.writerow({k: "" if v is None else v for k, v in r.items()})
        elif p.suffix.lower() == ".jsonl":
            with open(p, "w", encoding="utf-8") as f:
                for r in rows:
                    f.write(json.dumps(r) + "\n")
        else:
            p.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
        return p


PER_SAMPLE_SUFFIXES = (".csv", ".json", ".jsonl")


def check_per_sample_path(path: str | Path) -> Path:
    """The path of a per-sample file, if its extension says ``.csv``, ``.json`` or ``.jsonl``.

    Raises:
        FormatError: For any other extension.
    """
    p = Path(path)
    if p.suffix.lower() not in PER_SAMPLE_SUFFIXES:
        what = f"as {p.suffix!r}" if p.suffix else "to a file without extension"
        raise FormatError(
            f"cannot write per-sample rows {what}; name the file .csv, .json or .jsonl", p
        )
    return p


def build_report(
    table: SampleTable,
    proto: Protocol,
    *,
    requested: str,
    dataset: BuiltDataset,
    verified: bool,
    splits: list[str],
    excluded: dict[str, Any],
    set_aside: dict[str, str],
    predictions: dict[str, str],
    n_missing: int,
    by: list[str],
    n_boot: int,
    seed: int,
    resize_predictions: bool,
) -> ScoreReport:
    """Compute metrics, intervals and breakdowns of a scored table."""
    res = compute_metrics(table.counts, proto, table.first_categories())
    ps = per_sample(table.counts, proto)
    ci = bootstrap_ci(ps.i, ps.u, ps.iou, n_boot=n_boot, seed=seed) if n_boot > 0 else None
    if ci is not None:
        ci["basis"] = "per-sample float64 values of the protocol"
    notes = list(res.notes)
    if proto.compat:
        notes.insert(0, f"compat protocol: reproduces {proto.mirrors}")
    if resize_predictions:
        notes.append("predictions of another size were resized to the GT size (PIL NEAREST)")
    ignored: dict[str, int] = {}
    for why in set_aside.values():
        key = "sample_policy" if "sample policy" in why else "excluded"
        ignored[key] = ignored.get(key, 0) + 1
    gt_sha = {s: dataset.gt_sha256(s) for s in splits}
    info = {
        "name": dataset.name,
        "path": str(dataset.path),
        "split": ",".join(splits),
        "n_samples": len(table.sample_ids),
        "gt_sha256": gt_sha,
        "verified": verified,
        "excluded": excluded,
    }
    breakdowns = {key: _breakdown(table, key, proto) for key in by}
    return ScoreReport(
        protocol=proto,
        requested_protocol=requested,
        dataset=info,
        metrics=res.values,
        undefined=res.undefined,
        counts=res.counts,
        ci=ci,
        breakdowns=breakdowns,
        missing=n_missing,
        ignored=ignored,
        notes=notes,
        predictions=predictions,
        table=table,
    )


@dataclass
class CompareReport:
    """A paired comparison of two prediction sets (difference = B − A)."""

    a: ScoreReport
    b: ScoreReport
    difference: dict[str, float | None]
    ci: dict[str, Any]
    changed: list[dict[str, Any]]
    summary: dict[str, int]

    @classmethod
    def from_reports(
        cls, a: ScoreReport, b: ScoreReport, *, top: int = 10, n_boot: int = 1000, seed: int = 0
    ) -> CompareReport:
        """Pair two reports scored on the same samples."""
        if a.table.sample_ids != b.table.sample_ids:
            raise ValueError("Expected two reports on the same samples, but the sample ids differ")
        pa, pb = per_sample(a.table.counts, a.protocol), per_sample(b.table.counts, b.protocol)
        ci = paired_bootstrap((pa.i, pa.u, pa.iou), (pb.i, pb.u, pb.iou), n_boot=n_boot, seed=seed)
        diff: dict[str, float | None] = {}
        for k, va in a.metrics.items():
            vb = b.metrics.get(k)
            diff[k] = None if va is None or vb is None else vb - va
        delta = pb.iou - pa.iou
        finite = np.isfinite(delta)
        ids = a.table.sample_ids
        order = sorted(
            (k for k in range(len(ids)) if finite[k] and delta[k] != 0),
            key=lambda k: (-abs(float(delta[k])), natural_key(ids[k])),
        )
        changed = [
            {
                "sample_id": ids[k],
                "split": a.table.splits[k],
                "target_type": a.table.target_types[k],
                "iou_a": float(pa.iou[k]),
                "iou_b": float(pb.iou[k]),
                "delta": float(delta[k]),
            }
            for k in order[:top]
        ]
        summary = {
            "n": len(ids),
            "improved": int(np.count_nonzero(finite & (delta > 0))),
            "worse": int(np.count_nonzero(finite & (delta < 0))),
            "same": int(np.count_nonzero(finite & (delta == 0))),
        }
        return cls(a, b, diff, ci, changed, summary)

    def to_json(self) -> dict[str, Any]:
        """The comparison as a JSON-ready dict in schema ``rrsis-bench/compare/1``."""
        a = self.a.to_json()
        return {
            "schema": COMPARE_SCHEMA,
            "toolkit_version": __version__,
            "created": self.a.created,
            "protocol": a["protocol"],
            "dataset": a["dataset"],
            "a": {"predictions": self.a.predictions, "metrics": self.a.metrics},
            "b": {"predictions": self.b.predictions, "metrics": self.b.metrics},
            "difference": self.difference,
            "ci": self.ci,
            "summary": self.summary,
            "changed_most": self.changed,
        }

    def dumps(self) -> str:
        """The JSON text."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
