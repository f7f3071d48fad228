"""Checks of prediction masks: RLE structure and runs, PNG mode and values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rrsis_bench import masks
from rrsis_bench.masks import rle_totals
from rrsis_bench.schema import Rle


class MaskReadError(ValueError):
    """A prediction mask cannot be used; the message says why (the caller adds the sample id).

    Args:
        kind: ``unreadable`` (not a decodable PNG) or ``not binary`` (wrong mode or values).
        message: What is wrong.
    """

    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


_CORRUPT = "RLE counts are corrupt (their runs do not cover height*width pixels)"


def _structure_problem(rle: Any) -> str | None:
    """Every check of :func:`rle_problem` except decoding a string ``counts``."""
    if not isinstance(rle, Mapping) or "size" not in rle or "counts" not in rle:
        return "mask is not an RLE object with 'size' and 'counts'"
    size = rle["size"]
    if (
        not isinstance(size, (list, tuple))
        or len(size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in size)
    ):
        return f"RLE size must be [height, width] of non-negative integers, got {size!r}"
    counts = rle["counts"]
    if isinstance(counts, list):
        total = int(size[0]) * int(size[1])
        if not all(isinstance(v, int) and v >= 0 for v in counts) or sum(counts) != total:
            return "uncompressed RLE counts must be non-negative integers summing to height*width"
        return None
    if not isinstance(counts, str):
        return "RLE counts must be a string (compressed) or a list of integers"
    return None


def rle_problems(rles: Sequence[Any]) -> list[str | None]:
    """Why each RLE is not usable (``None`` where it is), decoding all strings in one pass.

    Checks the structure and that the runs are non-negative and cover ``h × w`` pixels exactly,
    so a corrupt string never reaches the C decoder.
    """
    out = [_structure_problem(r) for r in rles]
    todo = [k for k, p in enumerate(out) if p is None and isinstance(rles[k]["counts"], str)]
    if todo:
        totals = rle_totals([rles[k]["counts"] for k in todo])
        for k, total in zip(todo, totals.tolist(), strict=True):
            if total != int(rles[k]["size"][0]) * int(rles[k]["size"][1]):
                out[k] = _CORRUPT
    return out


def rle_problem(rle: Any) -> str | None:
    """Why ``rle`` is not a usable compressed RLE (``None`` if it is); see :func:`rle_problems`."""
    return rle_problems([rle])[0]


def as_rle(rle: Mapping[str, Any]) -> Rle:
    """A validated RLE with string counts (uncompressed counts are compressed)."""
    if isinstance(rle["counts"], list):
        return masks.from_uncompressed(dict(rle))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": str(rle["counts"])}


def read_png_mask(path: Path) -> np.ndarray:
    """Decode a PNG prediction into a boolean mask.

    Raises:
        MaskReadError: If the file is not a readable PNG, or not 1-bit / ``L`` / ``P`` with at
            most two values ``{0, v}``.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.format != "PNG":
                raise MaskReadError("unreadable", f"{path.name} is a {im.format} file, not a PNG")
            mode = im.mode
            if mode not in ("1", "L", "P"):
                raise MaskReadError(
                    "not binary",
                    f"mode {mode} is not a binary mask; save 1-bit, L or P PNGs with values {{0, v}}",
                )
            arr = np.asarray(im)
    except MaskReadError:
        raise
    except (OSError, SyntaxError, ValueError, UnidentifiedImageError) as exc:
        raise MaskReadError("unreadable", f"cannot decode {path.name} ({exc})") from None
    if arr.dtype == np.bool_:
        return arr
    top = arr.max() if arr.size else 0
    nonzero = np.count_nonzero(arr)
    if top and nonzero != np.count_nonzero(arr == top):
        values = np.unique(arr)
        shown = ", ".join(str(v) for v in values[:6]) + (", ..." if values.size > 6 else "")
        raise MaskReadError(
            "not binary", f"holds {values.size} values ({shown}); a mask may hold only {{0, v}}"
        )
    return arr != 0
