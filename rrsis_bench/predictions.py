"""Reading and writing predictions in the three forms ``rrsis-bench score`` accepts.

1. A folder of ``<sample_id>.png`` masks: 1-bit, ``L`` or ``P`` mode holding at most two
   values ``{0, v}`` (nonzero is foreground); anything else (RGB, 16-bit, more values) is
   rejected naming the sample.
2. ``predictions.jsonl``: one ``{"sample_id": ..., "mask": RLE, "no_target": bool}`` object per
   line (``no_target`` optional; ``mask`` may be left out when ``no_target`` is true).
3. A COCO-results-style JSON list of ``{"sample_id", "segmentation": RLE, "score"}``: the
   entries of one sample with ``score ≥ score_threshold`` (or no score) are united.

An explicit ``no_target`` wins over the mask. Reading streams: a PNG folder and a JSONL file
are indexed (names, byte offsets) and each mask is read when it is scored. A COCO-results
list is one JSON document and is parsed whole; prefer JSONL for very large sets.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "preds.jsonl"
    >>> m = np.zeros((3, 3), np.uint8); m[1, 1] = 1
    >>> write_predictions([{"sample_id": "7", "mask": m}], out)
    PosixPath('...preds.jsonl')
    >>> preds = open_predictions(out)
    >>> preds.format, preds.sample_ids(), preds.get("7").rle["size"]
    ('jsonl', ['7'], [3, 3])
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rrsis_bench import masks
from rrsis_bench.errors import FormatError, OutputExistsError, UnknownNameError
from rrsis_bench.metrics.counts import rle_totals
from rrsis_bench.schema import Rle

PredictionFormat = Literal["png", "jsonl", "coco"]
FORMATS: tuple[str, ...] = ("png", "jsonl", "coco")


class MaskReadError(ValueError):
    """A prediction mask cannot be used; the message says why (the caller adds the sample id).

    Args:
        kind: ``unreadable`` (not a decodable PNG) or ``not binary`` (wrong mode or values).
        message: What is wrong.
    """

    def __init__(self, kind: str, message: str):
        self.kind = kind
        super().__init__(message)


@dataclass(frozen=True)
class Prediction:
    """One sample's prediction: an RLE (JSONL, COCO) or a PNG path, and an optional flag."""

    sample_id: str
    rle: Rle | None = None
    path: Path | None = None
    no_target: bool | None = None


# --------------------------------------------------------------------------------------------
# masks


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


# --------------------------------------------------------------------------------------------
# reading


class PredictionSet:
    """Predictions indexed by sample id; masks are read on :meth:`get`.

    Attributes:
        path: The file or folder.
        format: ``png``, ``jsonl`` or ``coco``.
        problems: ``(sample_id, message)`` for predictions that cannot be used (duplicates,
            corrupt RLE, bad ``no_target``); found while indexing.
    """

    def __init__(self, path: Path, fmt: PredictionFormat):
        self.path = path
        self.format: PredictionFormat = fmt
        self.problems: list[tuple[str, str]] = []

    def sample_ids(self) -> list[str]:
        """Every sample id that has a prediction (each once)."""
        raise NotImplementedError

    def get(self, sample_id: str) -> Prediction:
        """The prediction of one sample (``KeyError`` if there is none)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release open files."""

    def __enter__(self) -> PredictionSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PngPredictions(PredictionSet):
    """A folder of ``<sample_id>.png`` masks."""

    def __init__(self, path: Path):
        super().__init__(path, "png")
        self._files: dict[str, Path] = {}
        for entry in sorted(os.scandir(path), key=lambda e: e.name):
            stem, ext = os.path.splitext(entry.name)
            if ext.lower() != ".png" or entry.name.startswith("."):
                continue
            if stem in self._files:
                self.problems.append(
                    (stem, f"duplicate prediction: {self._files[stem].name} and {entry.name}")
                )
                continue
            self._files[stem] = Path(entry.path)

    def sample_ids(self) -> list[str]:
        """Every sample id with a PNG."""
        return list(self._files)

    def get(self, sample_id: str) -> Prediction:
        """The PNG path of one sample."""
        return Prediction(sample_id, path=self._files[sample_id])


def _entry_problem(obj: Any, where: str, mask_key: str, path: Path) -> tuple[str, str | None, bool]:
    """(sample_id, problem, whether its mask still needs the RLE check) of one JSON object.

    Raises:
        FormatError: If the object is not a JSON object or has no string ``sample_id``.
    """
    line = int(where.split()[1]) if where.startswith("line ") else None
    prefix = "" if line is not None else f"{where}: "
    if not isinstance(obj, dict):
        hint = (
            " (a COCO-results list belongs in a .json file, or pass --format coco)"
            if isinstance(obj, list) and mask_key == "mask"
            else ""
        )
        raise FormatError(
            f"{prefix}expected a JSON object, but got {type(obj).__name__}{hint}", path, line
        )
    sid = obj.get("sample_id")
    if not isinstance(sid, str) or not sid:
        raise FormatError(f"{prefix}expected a string 'sample_id', but got {sid!r}", path, line)
    nt = obj.get("no_target")
    if nt is not None and not isinstance(nt, bool):
        return sid, f"{where}: no_target must be true or false, got {nt!r}", False
    if mask_key not in obj:
        if nt is True:
            return sid, None, False
        return sid, f"{where}: no '{mask_key}' (only allowed with \"no_target\": true)", False
    return sid, None, True


def _check_entries(
    entries: list[tuple[Any, str]], mask_key: str, path: Path
) -> list[tuple[str, str | None]]:
    """(sample_id, problem) of many ``(object, where)`` entries; RLEs checked in one pass."""
    checked = [_entry_problem(obj, where, mask_key, path) for obj, where in entries]
    need = [k for k, (_, _, rle) in enumerate(checked) if rle]
    problems = rle_problems([entries[k][0][mask_key] for k in need])
    out = [(sid, problem) for sid, problem, _ in checked]
    for k, problem in zip(need, problems, strict=True):
        if problem is not None:
            out[k] = (out[k][0], f"{entries[k][1]}: {problem}")
    return out


_CHUNK = 512


class JsonlPredictions(PredictionSet):
    """``predictions.jsonl``: indexed by byte offset, each line re-read when scored."""

    def __init__(self, path: Path):
        super().__init__(path, "jsonl")
        self._offsets: dict[str, tuple[int, int]] = {}
        self._file = open(path, "rb")
        chunk: list[tuple[Any, int, int]] = []
        offset = 0
        try:
            for lineno, raw in enumerate(self._file, start=1):
                start, offset = offset, offset + len(raw)
                if not raw.strip():
                    continue
                try:
                    obj = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
                    raise FormatError(
                        f"line is not valid JSON ({msg}); each line must be one object",
                        path,
                        lineno,
                    ) from None
                chunk.append((obj, lineno, start))
                if len(chunk) >= _CHUNK:
                    self._index(chunk)
            self._index(chunk)
        except BaseException:
            self._file.close()
            raise

    def _index(self, chunk: list[tuple[Any, int, int]]) -> None:
        checked = _check_entries([(obj, f"line {n}") for obj, n, _ in chunk], "mask", self.path)
        for (sid, problem), (_, lineno, start) in zip(checked, chunk, strict=True):
            if sid in self._offsets:
                first = self._offsets[sid][1]
                self.problems.append((sid, f"duplicate prediction on lines {first} and {lineno}"))
                continue
            if problem is not None:
                self.problems.append((sid, problem))
            self._offsets[sid] = (start, lineno)
        chunk.clear()

    def sample_ids(self) -> list[str]:
        """Every sample id on a line."""
        return list(self._offsets)

    def get(self, sample_id: str) -> Prediction:
        """Re-read and return the line of one sample."""
        start, _ = self._offsets[sample_id]
        self._file.seek(start)
        obj = json.loads(self._file.readline())
        rle = as_rle(obj["mask"]) if "mask" in obj else None
        return Prediction(sample_id, rle=rle, no_target=obj.get("no_target"))

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class CocoPredictions(PredictionSet):
    """A COCO-results-style list; entries of a sample above the threshold are united."""

    def __init__(self, path: Path, score_threshold: float):
        super().__init__(path, "coco")
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except json.JSONDecodeError as exc:
            hint = (
                "; it looks like JSON Lines: name it .jsonl or pass --format jsonl"
                if exc.msg == "Extra data"
                else ""
            )
            raise FormatError(f"not valid JSON ({exc.msg}){hint}", path, exc.lineno) from None
        except UnicodeDecodeError as exc:
            raise FormatError(f"not UTF-8 text ({exc.reason})", path) from None
        if not isinstance(data, list):
            raise FormatError(
                f"expected a JSON list of result entries, but got {type(data).__name__}", path
            )
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        checked = _check_entries(
            [(obj, f"entry {k}") for k, obj in enumerate(data)], "segmentation", path
        )
        for k, (obj, (sid, problem)) in enumerate(zip(data, checked, strict=True)):
            score = obj.get("score", None)
            if score is not None and (
                isinstance(score, bool) or not isinstance(score, (int, float))
            ):
                problem = f"entry {k}: score must be a number, got {score!r}"
            if problem is not None:
                self.problems.append((sid, problem))
            groups.setdefault(sid, []).append((k, obj))
        self._preds: dict[str, Prediction] = {}
        bad = {sid for sid, _ in self.problems}
        for sid, entries in groups.items():
            if sid in bad:
                self._preds[sid] = Prediction(sid)
                continue
            pred = self._unite(sid, entries, score_threshold)
            if pred is not None:
                self._preds[sid] = pred

    def _unite(
        self, sid: str, entries: list[tuple[int, dict[str, Any]]], threshold: float
    ) -> Prediction | None:
        flags = {e["no_target"] for _, e in entries if e.get("no_target") is not None}
        if len(flags) > 1:
            self.problems.append((sid, "its entries disagree on no_target"))
            return Prediction(sid)
        rles = [as_rle(e["segmentation"]) for _, e in entries if "segmentation" in e]
        sizes = {tuple(r["size"]) for r in rles}
        if len(sizes) > 1:
            self.problems.append((sid, f"its entries have different sizes {sorted(sizes)}"))
            return Prediction(sid)
        kept = [
            as_rle(e["segmentation"])
            for _, e in entries
            if "segmentation" in e and (e.get("score") is None or float(e["score"]) >= threshold)
        ]
        no_target = flags.pop() if flags else None
        if not rles:
            return Prediction(sid, no_target=no_target)
        h, w = next(iter(sizes))
        return Prediction(sid, rle=masks.union(kept, h, w), no_target=no_target)

    def sample_ids(self) -> list[str]:
        """Every sample id with at least one entry."""
        return list(self._preds)

    def get(self, sample_id: str) -> Prediction:
        """The united prediction of one sample."""
        return self._preds[sample_id]


def detect_format(path: Path) -> PredictionFormat:
    """``png`` for a folder, ``jsonl`` for ``*.jsonl``, ``coco`` for ``*.json``.

    A folder holding no PNG but a ``predictions.jsonl`` is read as that file.

    Raises:
        FormatError: If the path is neither.
    """
    if path.is_dir():
        return "png"
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return "jsonl"
    if suffix == ".json":
        return "coco"
    raise FormatError(
        "cannot tell the prediction format: expected a folder of PNGs, a .jsonl file or a "
        ".json COCO-results list (or pass --format)",
        path,
    )


def open_predictions(
    path: str | Path,
    format: str | None = None,
    *,
    score_threshold: float = 0.5,
) -> PredictionSet:
    """Open predictions in any of the three forms.

    Args:
        path: A PNG folder, a ``.jsonl`` file or a ``.json`` COCO-results list.
        format: ``png``, ``jsonl`` or ``coco``; detected from ``path`` when ``None``.
        score_threshold: COCO results: entries with a lower ``score`` are dropped before uniting.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        FormatError: On a syntax error (with its line number) or an unknown layout.
        UnknownNameError: If ``format`` is not one of the three.
    """
    p = Path(path)
    if not p.exists():
        from rrsis_bench.errors import DatasetNotFoundError

        raise DatasetNotFoundError(
            f"{p}: no such predictions file or folder; pass a PNG folder, a .jsonl or a .json file"
        )
    fmt = format.lower() if format else detect_format(p)
    if fmt not in FORMATS:
        raise UnknownNameError("prediction format", fmt, FORMATS)
    if p.is_dir() and fmt == "png":
        has_png = any(n.lower().endswith(".png") for n in os.listdir(p))
        if not has_png and (p / "predictions.jsonl").is_file():
            return JsonlPredictions(p / "predictions.jsonl")
        return PngPredictions(p)
    if p.is_dir():
        raise FormatError(f"--format {fmt} needs a file, but this is a folder", p)
    if fmt == "png":
        raise FormatError("--format png needs a folder of <sample_id>.png masks", p)
    if fmt == "jsonl":
        return JsonlPredictions(p)
    return CocoPredictions(p, score_threshold)


# --------------------------------------------------------------------------------------------
# writing


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
        overwrite: Replace an existing output.
        png_mode: ``L`` (values {0, 255}) or ``1`` (1-bit) for PNG output.

    Raises:
        OutputExistsError: If ``path`` exists and ``overwrite`` is false.
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
        if out.exists():
            if out.is_dir():
                shutil.rmtree(out)
            else:
                out.unlink()
        os.replace(tmp, out)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()
        raise
    return out
