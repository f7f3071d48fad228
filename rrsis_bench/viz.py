"""Figures: a sample with its ground truth (and a prediction), a contact sheet, score plots.

Every function returns a ``matplotlib.figure.Figure`` made without pyplot (no global state, no
window); save it with ``fig.savefig(path)``.

Example:
    >>> from rrsis_bench.hf import expressions                      # doctest: +SKIP
    >>> from rrsis_bench.viz import plot_sample                     # doctest: +SKIP
    >>> fig = plot_sample(expressions("rrsis-d", "test")[0])        # doctest: +SKIP
    >>> fig.savefig("sample.png")                                   # doctest: +SKIP
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rrsis_bench import masks

GT_COLOUR = (0.10, 0.80, 0.30)
PRED_COLOUR = (0.95, 0.15, 0.55)
GT_OUTLINE = "#ffffff"
_OUTLINES = ("#ffd700", "#00e5ff", "#ff8c00", "#7cfc00", "#ff69b4", "#1e90ff", "#ff4500")


_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei")


def font_family() -> list[str]:
    """Fonts for titles: DejaVu Sans, then any installed CJK font (NWPU-Refer has Chinese text)."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return ["DejaVu Sans", *[f for f in _CJK_FONTS if f in installed]]


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _get(item: Any, key: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(key, default)
    return getattr(item, key, default)


def _as_mask(value: Any) -> np.ndarray | None:
    if value is None:
        return None
    if isinstance(value, Mapping) and "counts" in value:
        return masks.decode(dict(value))
    arr = np.asarray(value)
    if arr.ndim != 2:
        raise ValueError(f"Expected a 2-D mask, but got shape {arr.shape}")
    return (arr != 0).astype(np.uint8)


def _overlay(ax: Any, mask: np.ndarray, colour: tuple[float, float, float], alpha: float) -> None:
    rgba = np.zeros((*mask.shape, 4), dtype=np.float32)
    rgba[..., :3] = colour
    rgba[..., 3] = (mask != 0) * alpha
    ax.imshow(rgba, interpolation="nearest")


def _outline(ax: Any, mask: np.ndarray, colour: Any, width: float = 1.5) -> None:
    if mask.any() and not mask.all():
        ax.contour(mask, levels=[0.5], colors=[colour], linewidths=width)


def _image_array(item: Any) -> np.ndarray:
    image = _get(item, "image")
    if image is None:
        raise ValueError("Expected the sample to carry an 'image', but it has none")
    if hasattr(image, "convert"):
        image = image.convert("RGB")
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[-1] not in (1, 3):
        arr = arr.transpose(1, 2, 0)  # a CHW tensor
    return arr


def _draw_sample(ax: Any, item: Any, alpha: float, outlines: bool = True) -> None:
    ax.imshow(_image_array(item), interpolation="nearest")
    gt = _as_mask(_get(item, "mask"))
    if gt is None and _get(item, "rle") is not None:
        gt = masks.decode(_get(item, "rle"))
    if gt is not None:
        _overlay(ax, gt, GT_COLOUR, alpha)
    drawn = 0
    if outlines:
        wanted = set(_get(item, "object_ids", None) or [])
        for k, obj in enumerate(_get(item, "objects", None) or []):
            if wanted and obj.get("object_id") not in wanted:
                continue
            _outline(ax, masks.decode(obj["mask"]), _OUTLINES[k % len(_OUTLINES)])
            drawn += 1
    if gt is not None and not drawn:
        _outline(ax, gt, GT_OUTLINE)  # sources without instances: outline the mask itself
    ax.set_xticks([])
    ax.set_yticks([])


def _title(item: Any, width: int = 60) -> str:
    text = str(_get(item, "text", ""))
    return "\n".join(textwrap.wrap(f"“{text}”", width)) or "(no text)"


def plot_sample(item: Any, prediction: Any = None, *, alpha: float = 0.45) -> Any:
    """One expression: the image, the ground-truth mask filled, each referred object outlined.

    Args:
        item: An :class:`~rrsis_bench.expressions.Expression` or a sample dict with ``image``,
            ``mask`` (array or RLE), ``text``, ``target_type``, ``sample_id`` and optionally
            ``objects`` (format-v1 object dicts) and ``object_ids``.
        prediction: A predicted mask (array or RLE); adds a second panel with its IoU.
        alpha: Opacity of the filled masks.

    Returns:
        A figure with one axes (two with a prediction).
    """
    n = 1 if prediction is None else 2
    fig = _figure(5.0 * n, 5.4)
    axes = fig.subplots(1, n, squeeze=False)[0]
    _draw_sample(axes[0], item, alpha)
    target = _get(item, "target_type", "?")
    sid = _get(item, "sample_id", "?")
    axes[0].set_title(f"ground truth ({target})", fontsize=10)
    fonts = font_family()
    if prediction is not None:
        pred = _as_mask(prediction)
        assert pred is not None  # prediction is not None here
        axes[1].imshow(_image_array(item), interpolation="nearest")
        _overlay(axes[1], pred, PRED_COLOUR, alpha)
        gt = _as_mask(_get(item, "mask"))
        if gt is None:
            gt = masks.decode(_get(item, "rle"))
        _outline(axes[1], gt, GT_COLOUR)
        axes[1].set_xticks([])
        axes[1].set_yticks([])
        axes[1].set_title(_pred_title(gt, pred, target), fontsize=10)
    fig.suptitle(
        f"{_title(item, 30 * n)}\n[{sid} · target: {target}]", fontsize=11, fontfamily=fonts
    )
    return fig


def _pred_title(gt: np.ndarray, pred: np.ndarray, target_type: str) -> str:
    if gt.shape != pred.shape:
        return f"prediction (size {pred.shape} ≠ GT {gt.shape})"
    union = int(np.logical_or(gt, pred).sum())
    inter = int(np.logical_and(gt, pred).sum())
    if target_type == "none":
        return "prediction: " + ("no target (correct)" if not pred.any() else f"{pred.sum()} px")
    return f"prediction, IoU {inter / union:.3f}" if union else "prediction, IoU 0 (empty union)"


def plot_grid(items: Sequence[Any], ncols: int = 4, *, alpha: float = 0.45) -> Any:
    """A contact sheet: one panel per expression (image, GT filled, objects outlined, text).

    Returns:
        A figure with exactly ``len(items)`` axes.
    """
    if not items:
        raise ValueError("Expected at least one sample for the contact sheet, but got none")
    ncols = max(1, min(ncols, len(items)))
    nrows = (len(items) + ncols - 1) // ncols
    fig = _figure(3.2 * ncols, 3.6 * nrows)
    fonts = font_family()
    grid = fig.subplots(nrows, ncols, squeeze=False)
    for k, ax in enumerate(grid.ravel()):
        if k >= len(items):
            fig.delaxes(ax)
            continue
        item = items[k]
        _draw_sample(ax, item, alpha)
        ax.set_title(
            f"{_title(item, 34)}\n[{_get(item, 'sample_id', '?')} · {_get(item, 'target_type', '?')}]",
            fontsize=8,
            fontfamily=fonts,
        )
    return fig


def _groups(breakdown: Any) -> dict[str, Mapping[str, Any]]:
    """Group name -> metrics from a score-report breakdown (``bins`` order kept when given)."""
    if not isinstance(breakdown, Mapping):
        return {}
    groups: dict[str, Mapping[str, Any]] = {}
    for k, v in breakdown.items():
        if isinstance(v, Mapping):
            inner = v.get("metrics")
            groups[str(k)] = inner if isinstance(inner, Mapping) else v
    order = breakdown.get("bins")
    if isinstance(order, list):
        labels = [b.get("label") if isinstance(b, Mapping) else b for b in order]
        ordered = {str(b): groups[str(b)] for b in labels if str(b) in groups}
        ordered.update({k: v for k, v in groups.items() if k not in ordered})
        return ordered
    return groups


def _bars(ax: Any, groups: Mapping[str, Mapping[str, Any]], title: str) -> None:
    names = list(groups)
    x = np.arange(len(names))
    for offset, key, label in ((-0.2, "oiou", "oIoU (cIoU)"), (0.2, "miou", "mIoU (gIoU)")):
        values = [groups[n].get(key) for n in names]
        heights = [float(v) if v is not None else 0.0 for v in values]
        ax.bar(x + offset, heights, width=0.4, label=label)
    # up to 4 labels flat, up to 8 slanted, more upright (slanted boxes would collide)
    n = len(names)
    ax.set_xticks(
        x,
        names,
        rotation=0 if n <= 4 else 45 if n <= 8 else 90,
        ha="right" if 4 < n <= 8 else "center",
        rotation_mode="anchor" if 4 < n <= 8 else "default",
        fontsize=8 if n > 8 else None,
    )
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)


def plot_score_report(report: Mapping[str, Any]) -> Any:
    """Plots of a score report (schema ``rrsis-bench/score/1``, the ``score --json`` output).

    Panels, in order, each only when the report has its data: Pr@t against t, oIoU and mIoU per
    category, per size bin, per target type.

    Raises:
        ValueError: If ``report`` is not a ``rrsis-bench/score/1`` report.
    """
    schema = report.get("schema")
    if schema != "rrsis-bench/score/1":
        raise ValueError(
            f"Expected a score report of schema rrsis-bench/score/1, but got {schema!r}"
        )
    metrics = report.get("metrics") or {}
    prs = sorted((float(k.split("@", 1)[1]), v) for k, v in metrics.items() if k.startswith("pr@"))
    breakdowns = report.get("breakdowns") or {}
    panels: list[tuple[str, Any]] = []
    if prs:
        panels.append(("pr", prs))
    for key, title in (
        ("category", "by category"),
        ("size", "by object size"),
        ("target_type", "by target type"),
    ):
        groups = _groups(breakdowns.get(key))
        if groups:
            panels.append((title, groups))
    if not panels:
        raise ValueError("the score report has neither Pr@t values nor breakdowns to plot")
    # a bar panel gets room for its labels: RRSIS-D has 20 categories, NWPU-Refer 32
    widths = [5.0 if kind == "pr" else max(5.0, 0.3 * len(data) + 1.0) for kind, data in panels]
    fig = _figure(sum(widths), 4.2)
    axes = fig.subplots(1, len(panels), squeeze=False, width_ratios=widths)[0]
    for ax, (kind, data) in zip(axes, panels, strict=True):
        if kind == "pr":
            ts = [t for t, _ in data]
            vs = [float(v) if v is not None else np.nan for _, v in data]
            ax.plot(ts, vs, marker="o")
            ax.set_xlabel("IoU threshold t")
            ax.set_ylabel("Pr@t (%)")
            ax.set_ylim(0, 100)
            ax.set_title("precision at IoU thresholds", fontsize=10)
            ax.grid(alpha=0.3)
        else:
            _bars(ax, data, kind)
    ds = report.get("dataset") or {}
    proto = report.get("protocol") or {}
    oiou, miou = metrics.get("oiou"), metrics.get("miou")
    fmt = lambda v: "n/a" if v is None else f"{float(v):.2f}"  # noqa: E731
    fig.suptitle(
        f"{ds.get('name', '?')} {ds.get('split', '')} · protocol {proto.get('name', '?')} · "
        f"oIoU (cIoU) {fmt(oiou)} · mIoU (gIoU) {fmt(miou)} · n={ds.get('n_samples', '?')}",
        fontsize=11,
    )
    return fig


def read_prediction(path: str | Any, sample_id: str, shape: tuple[int, int]) -> np.ndarray:
    """One sample's predicted mask from any prediction form ``rrsis-bench score`` reads.

    Accepts a single PNG file, a folder of ``<sample_id>.png``, a ``predictions.jsonl`` or a
    COCO-results-style JSON list (read with :mod:`rrsis_bench.predictions`, so the same rules
    apply: binary PNGs only, COCO entries of the sample united). An explicit
    ``no_target: true`` gives an empty mask of ``shape``.

    Raises:
        PredictionError: If there is no prediction for ``sample_id`` or it cannot be read.
    """
    from pathlib import Path

    from rrsis_bench.errors import PredictionError
    from rrsis_bench.predictions import MaskReadError, open_predictions, read_png_mask

    p = Path(path)
    try:
        if p.is_file() and p.suffix.lower() == ".png":
            return read_png_mask(p).astype(np.uint8)
        if not p.exists():
            raise PredictionError(f"{p}: no such prediction file or folder")
        with open_predictions(p) as preds:
            try:
                pred = preds.get(sample_id)
            except KeyError:
                raise PredictionError(f"{p}: no prediction for sample {sample_id!r}") from None
            if pred.no_target is True:
                return np.zeros(shape, dtype=np.uint8)
            if pred.path is not None:
                return read_png_mask(pred.path).astype(np.uint8)
            if pred.rle is None:
                return np.zeros(shape, dtype=np.uint8)
            return masks.decode(pred.rle)
    except MaskReadError as exc:
        raise PredictionError(f"{p}: sample {sample_id!r}: {exc}") from None
