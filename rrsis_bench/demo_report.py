"""The demo's report: score tables (markdown) and a contact sheet of predictions.

Score reports are the ``rrsis-bench/score/1`` JSON dicts of :mod:`rrsis_bench.scoring`; the
tables print every metric with the alias papers use, the bootstrap interval of oIoU and mIoU,
and the breakdowns by target type and by category.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rrsis_bench import masks

METRIC_COLUMNS: tuple[tuple[str, str], ...] = (
    ("oiou", "oIoU (cIoU)"),
    ("miou", "mIoU (gIoU)"),
    ("pr@0.5", "Pr@0.5"),
    ("pr@0.7", "Pr@0.7"),
    ("pr@0.9", "Pr@0.9"),
    ("n_acc", "N-acc"),
    ("t_acc", "T-acc"),
)
GT_COLOUR = (0.10, 0.80, 0.30)
PRED_COLOUR = (0.95, 0.15, 0.55)


def _fmt(value: Any) -> str:
    return "–" if value is None else f"{float(value):.2f}"


def _with_ci(report: Mapping[str, Any], key: str) -> str:
    value = report["metrics"].get(key)
    ci = (report.get("ci") or {}).get(key)
    if value is None or not ci or ci[0] is None:
        return _fmt(value)
    return f"{_fmt(value)} [{_fmt(ci[0])}, {_fmt(ci[1])}]"


def summary_table(reports: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One row per predictor: every metric (oIoU and mIoU with their 95% interval)."""
    head = ["predictor", "n", *(label for _, label in METRIC_COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, rep in reports.items():
        cells = [name, str(rep["dataset"]["n_samples"])]
        for key, _ in METRIC_COLUMNS:
            cells.append(
                _with_ci(rep, key) if key in ("oiou", "miou") else _fmt(rep["metrics"].get(key))
            )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def breakdown_table(
    reports: Mapping[str, Mapping[str, Any]],
    breakdown: str,
    keys: Sequence[str] = ("oiou", "miou"),
    only: Sequence[str] | None = None,
) -> list[str]:
    """Groups of one breakdown (rows) against predictors × metrics (columns)."""
    groups: list[str] = []
    for rep in reports.values():
        for g, v in rep.get("breakdowns", {}).get(breakdown, {}).items():
            if isinstance(v, Mapping) and "metrics" in v and g not in groups:
                groups.append(g)
    if only is not None:
        groups = [g for g in groups if g in only]
    labels = dict(METRIC_COLUMNS)
    head = [breakdown, "n"] + [f"{p} {labels[k]}" for p in reports for k in keys]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in groups:
        first = next(iter(reports.values()))["breakdowns"][breakdown].get(g, {})
        cells = [g, str(first.get("n", ""))]
        for rep in reports.values():
            entry = rep["breakdowns"][breakdown].get(g, {})
            cells += [_fmt(entry.get("metrics", {}).get(k)) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def scores_markdown(
    reports: Mapping[str, Mapping[str, Mapping[str, Any]]],
    intro: Sequence[str],
    prior: Mapping[str, Any],
) -> str:
    """The demo's ``scores.md``: per split, the summary and the breakdowns.

    Args:
        reports: ``{split: {predictor: score report}}``.
        intro: Lines printed first (what was generated and built).
        prior: :meth:`~rrsis_bench.predictors.CategoryPrior.summary` of the fitted prior.
    """
    out = ["# rrsis-bench demo: reference predictors on a synthetic NWPU-Refer release", ""]
    out += [*intro, ""]
    any_rep = next(iter(next(iter(reports.values())).values()))
    proto = any_rep["protocol"]
    out += [
        f"Protocol `{proto['name']}`: " + "; ".join(proto.get("notes", [])) + ".",
        "oIoU = overall IoU (cIoU in GRES/ReLA), mIoU = mean IoU (gIoU in GRES/ReLA); "
        "intervals are 95% percentile bootstrap intervals over samples "
        f"({(any_rep.get('ci') or {}).get('n_boot', 0)} replicates). "
        "N-acc / T-acc use the GRES convention: no-target is the positive class.",
        "",
        f"`category-prior`: mean training mask per category word on a {prior['grid']}×{prior['grid']} "
        f"grid, threshold {prior['threshold']:.3f} (level {prior['level']}/255) chosen on val "
        f"(val oIoU {_fmt(prior['val_oiou'])}); categories learned: {len(prior['categories'])}.",
        "",
    ]
    for split, by_pred in reports.items():
        out += [f"## {split}", "", *summary_table(by_pred), ""]
        out += [f"### {split}: by target type", "", *breakdown_table(by_pred, "target_type"), ""]
        out += [
            f"### {split}: by category (oIoU and mIoU)",
            "",
            *breakdown_table({k: v for k, v in by_pred.items() if k != "empty"}, "category"),
            "",
        ]
    return "\n".join(out).rstrip() + "\n"


def save_png(fig: Any, path: Any, dpi: int = 72, colours: int | None = 128) -> None:
    """Save a figure as PNG; ``colours`` quantises it to a palette (a fraction of the bytes)."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    if colours is None:
        with open(path, "wb") as f:
            f.write(buf.getvalue())
        return
    img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    img.quantize(colors=colours, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        path, "PNG", optimize=True
    )


def _panel(
    ax: Any,
    image: np.ndarray,
    mask: np.ndarray,
    colour: tuple[float, float, float],
    outline: np.ndarray | None,
) -> None:
    ax.imshow(image, interpolation="nearest")
    rgba = np.zeros((*mask.shape, 4), dtype=np.float32)
    rgba[..., :3] = colour
    rgba[..., 3] = (mask != 0) * 0.5
    ax.imshow(rgba, interpolation="nearest")
    if outline is not None and outline.any() and not outline.all():
        ax.contour(outline, levels=[0.5], colors=[GT_COLOUR], linewidths=1.2)
    ax.set_xticks([])
    ax.set_yticks([])


def _iou_text(gt: np.ndarray, pred: np.ndarray, target_type: str, no_target: bool) -> str:
    if target_type == "none":
        return "says no target: correct" if no_target else f"wrong: {int(pred.sum())} px"
    if no_target:
        return "says no target: wrong"
    union = int(np.logical_or(gt, pred).sum())
    return f"IoU {np.logical_and(gt, pred).sum() / union:.2f}" if union else "IoU 0"


def contact_sheet(
    samples: Sequence[Mapping[str, Any]],
    predictions: Mapping[str, tuple[Any, bool]],
    predictor: str = "category-prior",
    ncols: int = 2,
) -> Any:
    """Pairs of panels per expression: ground truth (green) | prediction (magenta, GT outlined).

    Args:
        samples: Dicts with ``image`` (encoded bytes or an array), ``sample_id``, ``text``,
            ``target_type`` (name) and ``mask`` (RLE).
        predictions: ``sample_id -> (RLE, no_target)``.
        predictor: Name shown above the prediction panels.
        ncols: Expressions per row (each takes two panels).

    Returns:
        A matplotlib figure (no pyplot state).
    """
    from matplotlib.figure import Figure
    from PIL import Image

    if not samples:
        raise ValueError("Expected at least one sample for the contact sheet, but got none")
    nrows = (len(samples) + ncols - 1) // ncols
    fig = Figure(figsize=(3.1 * 2 * ncols, 3.45 * nrows), layout="constrained")
    axes = fig.subplots(nrows, 2 * ncols, squeeze=False)
    for k in range(nrows * ncols):
        left, right = axes[k // ncols][2 * (k % ncols)], axes[k // ncols][2 * (k % ncols) + 1]
        if k >= len(samples):
            fig.delaxes(left)
            fig.delaxes(right)
            continue
        s = samples[k]
        raw = s["image"]
        image = (
            np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))
            if isinstance(raw, bytes)
            else np.asarray(raw)
        )
        gt = masks.decode(s["mask"])
        rle, no_target = predictions[s["sample_id"]]
        pred = masks.decode(rle)
        _panel(left, image, gt, GT_COLOUR, None)
        _panel(right, image, pred, PRED_COLOUR, gt)
        text = "\n".join(textwrap.wrap(f"“{s['text']}”", 34))
        left.set_title(f"{text}\nGT · {s['target_type']}", fontsize=8)
        right.set_title(
            f"{predictor}\n{_iou_text(gt, pred, s['target_type'], no_target)}", fontsize=8
        )
    return fig
