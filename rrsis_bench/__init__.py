"""rrsis-bench: dataset toolkit and benchmark suite for Referring Remote Sensing Image Segmentation.

The main entry points are imported lazily so that ``import rrsis_bench`` stays cheap:

- :func:`rrsis_bench.build` — raw release to a built dataset (``rrsis-bench build``);
- :func:`rrsis_bench.open_dataset` — a built dataset on disk;
- :func:`rrsis_bench.score` — predictions to a score report (``rrsis-bench score``);
- :func:`rrsis_bench.load` — a built dataset as Hugging Face ``datasets`` objects.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "build": ("rrsis_bench.builders", "build"),
    "validate": ("rrsis_bench.builders", "validate"),
    "open_dataset": ("rrsis_bench.store", "open_dataset"),
    "score": ("rrsis_bench.scoring", "score"),
    "load": ("rrsis_bench.hf", "load"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'rrsis_bench' has no attribute {name!r}")
