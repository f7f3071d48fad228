"""Reference predictors: the floor every learned model must beat on a dataset.

- ``empty``: says "no target" for every expression (an empty mask, ``no_target: true``).
- ``full-image``: the whole image for every expression (``no_target: false``).
- ``category-prior``: for each expression, the mean training-split mask of the training
  expressions that mention the same category word, thresholded at the value that maximises
  oIoU on the validation split; "no target" when the expression mentions no category seen in
  training. Category words come from :class:`~rrsis_bench.lexicon.CategoryLexicon` fitted on
  the training split. Masks are averaged on a ``grid × grid`` raster (area-weighted
  downsampling), the mean is upsampled (bilinear) to each ground-truth mask's size and
  quantised to 256 levels; the threshold is the level ``k`` (foreground where
  ``level ≥ k``, ``k`` in 1..255) with the best validation oIoU under the ``native`` rules
  (predictions at the ground-truth mask's size; an empty prediction means "no target").

Predictions are written as ``predictions.jsonl`` (one ``{"sample_id", "mask", "no_target"}``
per line, masks as compressed RLE), the format ``rrsis-bench score`` reads. Ground truth is
read from a built dataset (annotation columns only, never image bytes).

Example:
    >>> from rrsis_bench.predictors import CategoryPrior, write_jsonl   # doctest: +SKIP
    >>> prior = CategoryPrior.fit("nwpu-refer")                         # doctest: +SKIP
    >>> write_jsonl(prior.predict("nwpu-refer", "test"), "preds/test/predictions.jsonl")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from rrsis_bench import masks
from rrsis_bench.errors import DatasetNotFoundError, OutputExistsError, UnknownNameError
from rrsis_bench.lexicon import CategoryLexicon
from rrsis_bench.schema import Rle
from rrsis_bench.store import BuiltDataset, open_dataset

PREDICTORS: tuple[str, ...] = ("empty", "full-image", "category-prior")
LEVELS = 255
_COLUMNS = ["expressions"]


@dataclass(frozen=True)
class Prediction:
    """One predicted mask (at the ground-truth mask's size) and the no-target decision."""

    sample_id: str
    mask: Rle
    no_target: bool

    def to_json(self) -> dict[str, Any]:
        """The ``predictions.jsonl`` record."""
        return {
            "sample_id": self.sample_id,
            "mask": {"size": [int(v) for v in self.mask["size"]], "counts": self.mask["counts"]},
            "no_target": self.no_target,
        }


def _open(dataset: str | Path | BuiltDataset) -> BuiltDataset:
    return dataset if isinstance(dataset, BuiltDataset) else open_dataset(dataset)


def _expressions(ds: BuiltDataset, split: str) -> Iterator[dict[str, Any]]:
    for row in ds.iter_rows(split, columns=_COLUMNS):
        yield from row["expressions"]


def _size(expr: dict[str, Any]) -> tuple[int, int]:
    h, w = expr["mask"]["size"]
    return int(h), int(w)


def predict_empty(dataset: str | Path | BuiltDataset, split: str) -> Iterator[Prediction]:
    """Predict "no target" (an empty mask) for every expression of ``split``."""
    ds = _open(dataset)
    cache: dict[tuple[int, int], Rle] = {}
    for e in _expressions(ds, split):
        hw = _size(e)
        if hw not in cache:
            cache[hw] = masks.empty(*hw)
        yield Prediction(e["sample_id"], cache[hw], True)


def predict_full_image(dataset: str | Path | BuiltDataset, split: str) -> Iterator[Prediction]:
    """Predict the whole image for every expression of ``split``."""
    ds = _open(dataset)
    cache: dict[tuple[int, int], Rle] = {}
    for e in _expressions(ds, split):
        hw = _size(e)
        if hw not in cache:
            cache[hw] = masks.encode(np.ones(hw, dtype=np.uint8))
        yield Prediction(e["sample_id"], cache[hw], False)


def check_fit_splits(
    dataset: str | Path | BuiltDataset, train_split: str = "train", val_split: str = "val"
) -> None:
    """Fail unless the build has the splits :meth:`CategoryPrior.fit` needs.

    Raises:
        DatasetNotFoundError: Naming the missing split and what the predictor needs it for.
    """
    from rrsis_bench.schema import normalize_split

    ds = _open(dataset)
    for s in (train_split, val_split):
        if normalize_split(s) not in ds.splits:
            raise DatasetNotFoundError(
                f"{ds.path}: the category-prior predictor needs a {train_split!r} split (to "
                f"average its masks) and a {val_split!r} split (to choose its threshold), but "
                f"the build has no {s!r} split (it has {', '.join(ds.splits)}); use the empty "
                "or full-image predictor, which need neither"
            )


def _downsample(mask: np.ndarray, grid: int) -> np.ndarray:
    if mask.shape == (grid, grid):
        return mask.astype(np.float64)
    img = Image.fromarray(mask.astype(np.float32), mode="F")
    return np.asarray(img.resize((grid, grid), Image.Resampling.BOX), dtype=np.float64)


@dataclass
class CategoryPrior:
    """The ``category-prior`` predictor, fitted on a dataset's training and validation splits.

    Attributes:
        lexicon: How category words are found in expressions.
        priors: Mean training mask per category, ``grid × grid`` in ``[0, 1]``.
        counts: Training expressions behind each prior.
        grid: Side of the raster the means are taken on.
        level: Chosen threshold level ``k`` (foreground where the quantised prior ``≥ k``).
        val_oiou: Validation oIoU (percent) at ``level``; None when undefined.
        val_curve: Validation oIoU per level 1..255 (None where undefined).
    """

    lexicon: CategoryLexicon
    priors: dict[str, np.ndarray]
    counts: dict[str, int]
    grid: int
    level: int = 128
    val_oiou: float | None = None
    val_curve: list[float | None] = field(default_factory=list)
    _cache: dict[tuple[str, int, int], np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def threshold(self) -> float:
        """The threshold as a fraction of the prior (``level / 255``)."""
        return self.level / LEVELS

    @classmethod
    def fit(
        cls,
        dataset: str | Path | BuiltDataset,
        train_split: str = "train",
        val_split: str = "val",
        grid: int = 64,
        lexicon: CategoryLexicon | None = None,
    ) -> CategoryPrior:
        """Average training masks per category word, then pick the threshold on validation.

        Raises:
            DatasetNotFoundError: If the build lacks the training or validation split.
        """
        ds = _open(dataset)
        check_fit_splits(ds, train_split, val_split)
        train = list(_expressions(ds, train_split))
        if lexicon is None:
            lexicon = CategoryLexicon.fit((e["text"], e["categories"]) for e in train)
        sums: dict[str, np.ndarray] = {}
        counts: dict[str, int] = {}
        for e in train:
            cat = lexicon.find(e["text"])
            if cat is None:
                continue
            low = _downsample(masks.decode(e["mask"]), grid)
            sums[cat] = sums.get(cat, 0) + low
            counts[cat] = counts.get(cat, 0) + 1
        priors = {c: (sums[c] / counts[c]).astype(np.float32) for c in sorted(sums)}
        model = cls(lexicon, priors, dict(sorted(counts.items())), grid)
        model._choose_level(_expressions(ds, val_split))
        return model

    def levels(self, category: str, height: int, width: int) -> np.ndarray:
        """The prior of ``category`` at ``height × width``, quantised to 0..255 (``uint8``)."""
        key = (category, height, width)
        if key not in self._cache:
            prior = self.priors[category]
            if prior.shape != (height, width):
                img = Image.fromarray(prior, mode="F")
                prior = np.asarray(img.resize((width, height), Image.Resampling.BILINEAR))
            self._cache[key] = np.clip(np.rint(prior * LEVELS), 0, LEVELS).astype(np.uint8)
            if len(self._cache) > 64:
                self._cache.pop(next(iter(self._cache)))
        return self._cache[key]

    def _choose_level(self, val: Iterable[dict[str, Any]]) -> None:
        sum_i = np.zeros(LEVELS + 2, dtype=np.int64)
        sum_u = np.zeros(LEVELS + 2, dtype=np.int64)
        for e in val:
            h, w = _size(e)
            gt = masks.decode(e["mask"]).astype(bool)
            n_gt = int(gt.sum())
            cat = self.lexicon.find(e["text"])
            if cat is None or cat not in self.priors:
                sum_u += n_gt  # no target predicted: I = 0, U = |G| at every level
                continue
            q = self.levels(cat, h, w)
            n_pred = np.cumsum(np.bincount(q.ravel(), minlength=LEVELS + 1)[::-1])[::-1]
            inter = np.cumsum(np.bincount(q[gt], minlength=LEVELS + 1)[::-1])[::-1]
            sum_i[: LEVELS + 1] += inter
            sum_u[: LEVELS + 1] += n_pred + n_gt - inter
        curve: list[float | None] = []
        for k in range(1, LEVELS + 1):
            curve.append(100.0 * sum_i[k] / sum_u[k] if sum_u[k] > 0 else None)
        self.val_curve = curve
        defined = [(v, -k) for k, v in enumerate(curve, start=1) if v is not None]
        if defined:
            best, neg_k = max(defined)
            self.level, self.val_oiou = -neg_k, float(best)

    def predict_one(self, text: str, height: int, width: int) -> tuple[np.ndarray, bool]:
        """The predicted mask for one expression and whether it says "no target"."""
        cat = self.lexicon.find(text)
        if cat is None or cat not in self.priors:
            return np.zeros((height, width), dtype=np.uint8), True
        m = (self.levels(cat, height, width) >= self.level).astype(np.uint8)
        return m, not m.any()

    def predict(self, dataset: str | Path | BuiltDataset, split: str) -> Iterator[Prediction]:
        """Predict every expression of ``split``."""
        ds = _open(dataset)
        cache: dict[tuple[str | None, int, int], tuple[Rle, bool]] = {}
        for e in _expressions(ds, split):
            h, w = _size(e)
            cat = self.lexicon.find(e["text"])
            key = (cat if cat in self.priors else None, h, w)
            if key not in cache:
                m, nt = self.predict_one(e["text"], h, w)
                cache[key] = (masks.encode(m), nt)
            rle, nt = cache[key]
            yield Prediction(e["sample_id"], rle, nt)

    def summary(self) -> dict[str, Any]:
        """What was fitted, for reports (no arrays)."""
        return {
            "grid": self.grid,
            "level": self.level,
            "threshold": round(self.threshold, 6),
            "val_oiou": self.val_oiou,
            "categories": self.counts,
            "lexicon": self.lexicon.to_json(),
        }


def write_jsonl(
    predictions: Iterable[Prediction], path: str | Path, *, overwrite: bool = False
) -> int:
    """Write ``predictions.jsonl`` atomically (temporary file, then rename); return the count.

    The file is written by :func:`rrsis_bench.predictions.write_predictions`, the writer of
    every prediction format ``rrsis-bench score`` reads.

    Args:
        predictions: The predictions, streamed.
        path: The file to write.
        overwrite: Replace an existing file.

    Raises:
        OutputExistsError: If ``path`` exists and ``overwrite`` is false.
    """
    from rrsis_bench.predictions import write_predictions

    n = 0

    def records() -> Iterator[dict[str, Any]]:
        nonlocal n
        for pred in predictions:
            n += 1
            yield pred.to_json()

    write_predictions(records(), path, "jsonl", overwrite=overwrite)
    return n


def prediction_paths(
    dataset: str | Path | BuiltDataset, splits: Iterable[str], out: str | Path, overwrite: bool
) -> dict[str, Path]:
    """The ``<out>/<split>/predictions.jsonl`` file of each split, checked before any work.

    Raises:
        DatasetNotFoundError: If the build lacks one of ``splits``.
        OutputExistsError: If one of the files exists and ``overwrite`` is false, or one of
            them (or its split folder) exists as something else, which is never replaced.
    """
    ds = _open(dataset)
    paths = {s: Path(out) / s / "predictions.jsonl" for s in map(ds.check_split, splits)}
    folders = [Path(out), *(p.parent for p in paths.values())]
    odd = [f"{p} exists and is not a folder" for p in folders if p.exists() and not p.is_dir()]
    odd += [f"{p} exists and is not a file" for p in paths.values() if p.is_dir()]
    if odd:
        raise OutputExistsError(f"{odd[0]}; choose another --out (it is never replaced)")
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise OutputExistsError(
            f"{', '.join(existing)} already exist{'s' if len(existing) == 1 else ''}; pass "
            "--overwrite to replace the predictions of these splits, or choose another --out"
        )
    return paths


def run_predictor(
    name: str,
    dataset: str | Path | BuiltDataset,
    splits: Iterable[str],
    out: str | Path,
    prior: CategoryPrior | None = None,
    *,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Write ``<out>/<split>/predictions.jsonl`` of one predictor for each split.

    Every file is checked before anything is computed and written atomically (temporary
    file, then rename); nothing else in ``out`` is touched.

    Args:
        name: ``empty``, ``full-image`` or ``category-prior``.
        dataset: Built dataset (name, folder or opened).
        splits: Splits to predict.
        out: Folder receiving one sub-folder per split.
        prior: A fitted :class:`CategoryPrior` (fitted on train/val when omitted).
        overwrite: Replace existing ``predictions.jsonl`` files of these splits.

    Raises:
        UnknownNameError: Unknown predictor name.
        OutputExistsError: A file exists and ``overwrite`` is false (see
            :func:`prediction_paths`).
    """
    if name not in PREDICTORS:
        raise UnknownNameError("predictor", name, PREDICTORS)
    ds = _open(dataset)
    if name == "category-prior" and prior is None:
        check_fit_splits(ds)
    paths = prediction_paths(ds, splits, out, overwrite)
    if name == "category-prior" and prior is None:
        prior = CategoryPrior.fit(ds)
    written: dict[str, Path] = {}
    for s, path in paths.items():
        if name == "empty":
            preds = predict_empty(ds, s)
        elif name == "full-image":
            preds = predict_full_image(ds, s)
        else:
            assert prior is not None
            preds = prior.predict(ds, s)
        write_jsonl(preds, path, overwrite=overwrite)
        written[s] = path
    return written


__all__ = [
    "PREDICTORS",
    "CategoryPrior",
    "Prediction",
    "check_fit_splits",
    "predict_empty",
    "predict_full_image",
    "prediction_paths",
    "run_predictor",
    "write_jsonl",
]
