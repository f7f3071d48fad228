"""Prediction sets: a PNG folder, ``predictions.jsonl`` or a COCO-results list, indexed by sample id."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rrsis_bench import masks
from rrsis_bench.errors import FormatError, UnknownNameError
from rrsis_bench.predictions.checks import as_rle, rle_problems
from rrsis_bench.schema import Rle

PredictionFormat = Literal["png", "jsonl", "coco"]
FORMATS: tuple[str, ...] = ("png", "jsonl", "coco")


@dataclass(frozen=True)
class Prediction:
    """One sample's prediction: an RLE (JSONL, COCO) or a PNG path, and an optional flag."""

    sample_id: str
    rle: Rle | None = None
    path: Path | None = None
    no_target: bool | None = None


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

    def split_of(self, sample_id: str) -> str | None:
        """The split a prediction was filed under (``None``: the set is not split by split)."""
        return None

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

    A folder holding no PNG but a ``predictions.jsonl`` is read as that file (see
    :func:`open_predictions` for a folder per split).

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
    splits: Sequence[str] | None = None,
) -> PredictionSet:
    """Open predictions in any of the three forms.

    A folder with no PNG and no ``predictions.jsonl`` but with ``train/``, ``val/`` or
    ``test/`` folders (what ``rrsis-bench predict`` writes: ``<split>/predictions.jsonl``) is
    read one folder per split: those of ``splits``, or all of them when ``splits`` is ``None``.

    Args:
        path: A PNG folder, a ``.jsonl`` file, a ``.json`` COCO-results list or a folder with
            one such folder per split.
        format: ``png``, ``jsonl`` or ``coco``; detected from ``path`` when ``None``.
        score_threshold: COCO results: entries with a lower ``score`` are dropped before uniting.
        splits: The splits to be scored (canonical names), for a folder per split.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        FormatError: On a syntax error (with its line number), an unknown layout, or a
            folder per split that lacks one of ``splits``.
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
        from rrsis_bench.predictions.per_split import SplitPredictions, split_folders

        if not has_png and split_folders(p):
            return SplitPredictions(
                p, splits, lambda part: open_predictions(part, score_threshold=score_threshold)
            )
        return PngPredictions(p)
    if p.is_dir():
        raise FormatError(f"--format {fmt} needs a file, but this is a folder", p)
    if fmt == "png":
        raise FormatError("--format png needs a folder of <sample_id>.png masks", p)
    if fmt == "jsonl":
        return JsonlPredictions(p)
    return CocoPredictions(p, score_threshold)
