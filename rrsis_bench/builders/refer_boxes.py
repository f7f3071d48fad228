"""Which box convention a REFER release uses, decided from its own data.

REFER and COCO store ``bbox`` as ``[x, y, w, h]``; RRSIS-D stores ``[x1, y1, x2, y2]`` under
the same key. The convention is decided once per release: every annotation with a non-empty
mask votes for the reading whose box agrees better (IoU) with the mask's extent; boxes that
are impossible under one reading (``x2 < x1``, or ``x + w`` beyond the image) vote against it.
A forced convention (builder option ``bbox_format``) is used as given, and the evidence is
still reported.

Example:
    >>> d = decide_bbox_format([([10, 10, 20, 30], [10.0, 10.0, 11.0, 21.0], 100, 100)])
    >>> d.format, d.samples, d.votes_xyxy
    ('xyxy', 1, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rrsis_bench.masks import box_iou_xywh, xyxy_to_xywh

BoxFormat = Literal["xywh", "xyxy"]
BBOX_FORMATS: tuple[str, ...] = ("auto", "xywh", "xyxy")


@dataclass(frozen=True)
class BoxDecision:
    """The chosen convention and the evidence for it."""

    format: BoxFormat
    samples: int
    votes_xyxy: int
    votes_xywh: int
    mean_iou_xyxy: float
    mean_iou_xywh: float
    forced: bool = False

    def message(self) -> str:
        """One line for the ``bbox-format`` finding."""
        n = self.samples
        name = "[x1, y1, x2, y2]" if self.format == "xyxy" else "[x, y, w, h]"
        other = "[x, y, w, h]" if self.format == "xyxy" else "[x1, y1, x2, y2]"
        mine, theirs = (
            (self.mean_iou_xyxy, self.mean_iou_xywh)
            if self.format == "xyxy"
            else (self.mean_iou_xywh, self.mean_iou_xyxy)
        )
        votes = self.votes_xyxy if self.format == "xyxy" else self.votes_xywh
        how = "given with bbox_format" if self.forced else "decided from the data"
        if n == 0:
            return f"boxes read as {name} ({how}; no annotation with a mask and a box to compare)"
        tail = "; converted to [x, y, w, h]" if self.format == "xyxy" else ""
        return (
            f"boxes read as {name} ({how}): that reading fits the mask extent better in "
            f"{votes:,} of {n:,} annotations (mean IoU {mine:.2f} vs {theirs:.2f} as {other}){tail}"
        )


def to_xywh(box: Sequence[float], fmt: BoxFormat) -> list[float]:
    """A source box in the decided convention, as ``[x, y, w, h]``."""
    return xyxy_to_xywh(box) if fmt == "xyxy" else [float(v) for v in box]


def decide_bbox_format(
    samples: Sequence[tuple[Sequence[float], Sequence[float], int, int]],
    forced: str = "auto",
) -> BoxDecision:
    """Decide the convention from ``(source box, mask extent [x,y,w,h], height, width)`` samples.

    Samples whose mask is empty should be left out. Ties go to COCO's ``[x, y, w, h]``.
    """
    v_xyxy = v_xywh = 0
    s_xyxy = s_xywh = 0.0
    for box, extent, height, width in samples:
        x1, y1, a, b = (float(v) for v in box)
        xyxy_possible = a >= x1 and b >= y1
        xywh_possible = a >= 0 and b >= 0 and x1 + a <= width + 1 and y1 + b <= height + 1
        iou_xyxy = box_iou_xywh(xyxy_to_xywh(box), extent) if xyxy_possible else 0.0
        iou_xywh = box_iou_xywh(list(box), extent) if xywh_possible else 0.0
        s_xyxy += iou_xyxy
        s_xywh += iou_xywh
        if iou_xyxy > iou_xywh:
            v_xyxy += 1
        elif iou_xywh > iou_xyxy:
            v_xywh += 1
    n = max(1, len(samples))
    if forced in ("xywh", "xyxy"):
        fmt: BoxFormat = "xyxy" if forced == "xyxy" else "xywh"
        return BoxDecision(fmt, len(samples), v_xyxy, v_xywh, s_xyxy / n, s_xywh / n, forced=True)
    fmt = "xyxy" if v_xyxy > v_xywh else "xywh"
    return BoxDecision(fmt, len(samples), v_xyxy, v_xywh, s_xyxy / n, s_xywh / n)
