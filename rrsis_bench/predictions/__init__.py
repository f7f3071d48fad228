"""Reading and writing predictions in the three forms ``rrsis-bench score`` accepts.

1. A folder of ``<sample_id>.png`` masks: 1-bit, ``L`` or ``P`` mode holding at most two
   values ``{0, v}`` (nonzero is foreground); anything else (RGB, 16-bit, more values) is
   rejected naming the sample.
2. ``predictions.jsonl``: one ``{"sample_id": ..., "mask": RLE, "no_target": bool}`` object per
   line (``no_target`` optional; ``mask`` may be left out when ``no_target`` is true).
3. A COCO-results-style JSON list of ``{"sample_id", "segmentation": RLE, "score"}``: the
   entries of one sample with ``score ≥ score_threshold`` (or no score) are united.

A folder holding one such folder per split (``<split>/predictions.jsonl``, what
``rrsis-bench predict`` writes) is read split by split. An explicit ``no_target`` wins over
the mask. Reading streams: a PNG folder and a JSONL file
are indexed (names, byte offsets) and each mask is read when it is scored. A COCO-results
list is one JSON document and is parsed whole; prefer JSONL for very large sets.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "preds.jsonl"
    >>> m = np.zeros((3, 3), np.uint8); m[1, 1] = 1
    >>> _ = write_predictions([{"sample_id": "7", "mask": m}], out)
    >>> preds = open_predictions(out)
    >>> preds.format, preds.sample_ids(), preds.get("7").rle["size"]
    ('jsonl', ['7'], [3, 3])
"""

from __future__ import annotations

from rrsis_bench.predictions.checks import (
    MaskReadError,
    as_rle,
    read_png_mask,
    rle_problem,
    rle_problems,
)
from rrsis_bench.predictions.per_split import SplitPredictions
from rrsis_bench.predictions.readers import (
    FORMATS,
    CocoPredictions,
    JsonlPredictions,
    PngPredictions,
    Prediction,
    PredictionFormat,
    PredictionSet,
    detect_format,
    open_predictions,
)
from rrsis_bench.predictions.writer import write_predictions

__all__ = [
    "FORMATS",
    "CocoPredictions",
    "JsonlPredictions",
    "MaskReadError",
    "PngPredictions",
    "Prediction",
    "PredictionFormat",
    "PredictionSet",
    "SplitPredictions",
    "as_rle",
    "detect_format",
    "open_predictions",
    "read_png_mask",
    "rle_problem",
    "rle_problems",
    "write_predictions",
]
