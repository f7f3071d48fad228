"""Writing predictions in any of the three forms (atomic, one mask at a time)."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rrsis_bench import masks
from rrsis_bench.errors import OutputExistsError, UnknownNameError
from rrsis_bench.predictions.checks import as_rle, rle_problem
from rrsis_bench.predictions.readers import FORMATS
from rrsis_bench.schema import Rle


def _items(predictions: Any) -> Iterator[dict[str, Any]]:
    if isinstance(predictions, Mapping):
        for sid, mask in predictions.items():
            yield {"sample_id": sid, "mask": mask}
        return
    for item in predictions:
        if isinstance(item, Mapping):
            yield dict(item)
        else:
            sid, mask, *rest = item
            yield {"sample_id": sid, "mask": mask, "no_target": rest[0] if rest else None}


def _to_rle(mask: Any, sid: str) -> Rle:
    if isinstance(mask, Mapping):
        problem = rle_problem(mask)
        if problem:
            raise ValueError(f"sample {sid}: {problem}")
        return as_rle(mask)
    arr = np.asarray(mask)
    if arr.ndim != 2:
        raise ValueError(f"sample {sid}: expected a 2-D mask, but got shape {arr.shape}")
    return masks.encode(arr)


def _check_replaceable(out: Path, fmt: str) -> None:
    """Refuse to replace anything but an earlier output of the same kind."""
    if fmt != "png" and out.is_dir():
        raise OutputExistsError(f"{out} is a folder, not a {fmt} file; it is never replaced")
    if fmt == "png" and not out.is_dir():
        raise OutputExistsError(f"{out} is a file, not a folder of PNG masks; it is never replaced")
    if fmt == "png" and any(not (p.is_file() and p.suffix == ".png") for p in out.iterdir()):
        raise OutputExistsError(
            f"{out} holds more than PNG masks; choose another folder (it is never replaced)"
        )


def _replace(tmp: Path, out: Path) -> None:
    """Move ``tmp`` to ``out``; a file is replaced in one rename, never missing meanwhile."""
    if not out.is_dir():
        os.replace(tmp, out)
        return
    old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
    os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old, ignore_errors=True)


def write_predictions(
    predictions: Mapping[str, Any] | Iterable[Any],
    path: str | Path,
    format: str = "jsonl",
    *,
    overwrite: bool = False,
    png_mode: Literal["1", "L"] = "L",
) -> Path:
    """Write predictions as a PNG folder, ``predictions.jsonl`` or a COCO-results list.

    Args:
        predictions: ``{sample_id: mask}``, or an iterable of dicts with ``sample_id``,
            ``mask`` (array or RLE), optional ``no_target`` and ``score``, or of
            ``(sample_id, mask[, no_target])`` tuples. Streamed: one mask at a time.
        path: The folder (``png``) or file to write; written atomically.
        format: ``png``, ``jsonl`` or ``coco``.
        overwrite: Replace an existing output of the same kind (a file, or a folder holding
            only PNG files); anything else is never replaced.
        png_mode: ``L`` (values {0, 255}) or ``1`` (1-bit) for PNG output.

    Raises:
        OutputExistsError: If ``path`` exists and ``overwrite`` is false, or it is not an
            output of the same kind.
        ValueError: On a mask that is not 2-D, or a PNG sample with ``no_target`` true and a
            non-empty mask (PNG cannot carry the flag; use JSONL).
    """
    from PIL import Image

    out = Path(path)
    fmt = format.lower()
    if fmt not in FORMATS:
        raise UnknownNameError("prediction format", format, FORMATS)
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} exists; pass overwrite=True (--overwrite) to replace it")
    if out.exists():
        _check_replaceable(out, fmt)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        if fmt == "png":
            tmp.mkdir()
            for item in _items(predictions):
                sid, mask = str(item["sample_id"]), item.get("mask")
                arr = (
                    masks.decode(_to_rle(mask, sid))
                    if isinstance(mask, Mapping)
                    else np.asarray(mask)
                )
                if item.get("no_target") and arr.any():
                    raise ValueError(
                        f"sample {sid}: no_target is true but the mask is not empty; PNG cannot "
                        "carry the flag, write jsonl instead"
                    )
                binary = arr != 0
                img = (
                    Image.fromarray(binary)
                    if png_mode == "1"
                    else Image.fromarray(binary.astype(np.uint8) * 255)
                )
                img.save(tmp / f"{sid}.png")
        else:
            with open(tmp, "w", encoding="utf-8") as f:
                if fmt == "coco":
                    f.write("[")
                first = True
                for item in _items(predictions):
                    sid = str(item["sample_id"])
                    nt = item.get("no_target")
                    mask = item.get("mask")
                    key = "segmentation" if fmt == "coco" else "mask"
                    row: dict[str, Any] = {"sample_id": sid}
                    if mask is not None:
                        row[key] = _to_rle(mask, sid)
                    elif not nt:
                        raise ValueError(
                            f"sample {sid}: no mask (only allowed with no_target true)"
                        )
                    if nt is not None:
                        row["no_target"] = bool(nt)
                    if fmt == "coco":
                        row["score"] = float(item.get("score", 1.0))
                        f.write(("" if first else ",\n") + json.dumps(row))
                    else:
                        f.write(json.dumps(row) + "\n")
                    first = False
                if fmt == "coco":
                    f.write("]\n")
        _replace(tmp, out)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise
    return out
