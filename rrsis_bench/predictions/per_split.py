"""Predictions in one folder per split: ``<folder>/<split>/predictions.jsonl`` (or PNGs).

This is what ``rrsis-bench predict`` writes. Each split folder is read like any prediction
folder; a sample id is looked up in its own split's folder only (an id filed under another
split is reported by :func:`~rrsis_bench.alignment.count_samples`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rrsis_bench.errors import FormatError
from rrsis_bench.predictions.readers import Prediction, PredictionSet
from rrsis_bench.schema import SPLITS


def split_folders(path: Path) -> list[str]:
    """The canonical split names that have a folder inside ``path``, in canonical order."""
    return [s for s in SPLITS if (path / s).is_dir()]


def describe(path: Path, splits: Sequence[str]) -> str:
    """``val/predictions.jsonl, test/predictions.jsonl`` (``test/`` for a folder of PNGs)."""
    return ", ".join(
        f"{s}/predictions.jsonl" if (path / s / "predictions.jsonl").is_file() else f"{s}/"
        for s in splits
    )


class SplitPredictions(PredictionSet):
    """Predictions of several splits, each in its own ``<split>/`` folder.

    Attributes:
        parts: Split name → the prediction set read from ``<path>/<split>``.
    """

    def __init__(
        self,
        path: Path,
        splits: Sequence[str] | None,
        open_part: Callable[[Path], PredictionSet],
    ):
        found = split_folders(path)
        wanted = list(splits) if splits is not None else found
        lacking = [s for s in wanted if s not in found]
        if lacking:
            raise FormatError(
                f"holds one folder per split ({describe(path, found)}) but none for "
                f"{', '.join(lacking)}: add {'/, '.join(lacking)}/ or score the splits it "
                f"holds (--split {','.join(found)})",
                path,
            )
        self.parts: dict[str, PredictionSet] = {}
        self._split_of: dict[str, str] = {}
        try:
            for s in wanted:
                self.parts[s] = open_part(path / s)
        except BaseException:
            self.close()
            raise
        super().__init__(path, self.parts[wanted[0]].format)
        for s, part in self.parts.items():
            self.problems += [(sid, f"{s}/: {why}") for sid, why in part.problems]
            for sid in part.sample_ids():
                if sid in self._split_of:
                    self.problems.append(
                        (sid, f"duplicate prediction: in {self._split_of[sid]}/ and in {s}/")
                    )
                    continue
                self._split_of[sid] = s

    def sample_ids(self) -> list[str]:
        """Every sample id with a prediction in any split folder (each once)."""
        return list(self._split_of)

    def get(self, sample_id: str) -> Prediction:
        """The prediction of one sample, from its split's folder."""
        return self.parts[self._split_of[sample_id]].get(sample_id)

    def split_of(self, sample_id: str) -> str | None:
        """The split folder holding the prediction of ``sample_id``."""
        return self._split_of.get(sample_id)

    def close(self) -> None:
        """Close every split's prediction set."""
        for part in self.parts.values():
            part.close()
