"""The registry of datasets rrsis-bench knows how to build.

Each builder module registers a :class:`DatasetSpec` (licence, citation, where to download,
published counts); ``rrsis-bench datasets`` lists them.

Example:
    >>> from rrsis_bench.registry import list_datasets
    >>> "rrsis-d" in list_datasets()
    True
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rrsis_bench.errors import UnknownNameError

if TYPE_CHECKING:
    from rrsis_bench.builders.base import Builder

_BUILDER_MODULES = (
    "rrsis_bench.builders.rrsisd",
    "rrsis_bench.builders.refsegrs",
    "rrsis_bench.builders.nwpu_refer",
    "rrsis_bench.builders.refer_generic",
    "rrsis_bench.builders.risbench",
    "rrsis_bench.builders.phrase",
)


@dataclass(frozen=True)
class DatasetSpec:
    """What rrsis-bench knows about one dataset.

    Attributes:
        name: Registry name used on the command line (``rrsis-d``).
        title: Human name (``RRSIS-D``).
        builder: Factory returning a :class:`~rrsis_bench.builders.base.Builder`.
        licence: SPDX id, or ``"unknown"`` when the authors state none.
        redistributable: Whether the licence allows re-publishing the data.
        citation: BibTeX entry.
        homepage: Where the authors describe the dataset.
        download: How to obtain the raw release (one or two sentences).
        layout: The raw layout the builder expects, as a short tree.
        published_counts: Expressions per split as published (``{"train": ..., "total": ...}``).
        published_unit: What ``published_counts`` counts (``"expressions"`` or ``"images"``).
        description: One paragraph for the dataset card.
        protocol: The evaluation protocol papers use on this dataset.
        extra_counts: Other published totals (``{"images": 15003, "targets": 49745}``).
    """

    name: str
    title: str
    builder: Callable[..., Builder]
    licence: str
    redistributable: bool
    citation: str
    homepage: str
    download: str
    layout: str
    published_counts: dict[str, int]
    published_unit: str
    description: str
    protocol: str
    extra_counts: dict[str, int] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        """Plain-data view for ``rrsis-bench datasets --json``."""
        return {
            "name": self.name,
            "title": self.title,
            "licence": self.licence,
            "redistributable": self.redistributable,
            "homepage": self.homepage,
            "download": self.download,
            "published_counts": self.published_counts,
            "published_unit": self.published_unit,
            "extra_counts": self.extra_counts,
            "citation": self.citation,
        }


_REGISTRY: dict[str, DatasetSpec] = {}
_loaded = False


def register(spec: DatasetSpec) -> DatasetSpec:
    """Add a dataset to the registry (called at import by each builder module)."""
    _REGISTRY[spec.name] = spec
    return spec


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in _BUILDER_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a builder not written yet
            if exc.name != module:
                raise


def list_datasets() -> list[str]:
    """Names of the registered datasets, sorted."""
    _load()
    return sorted(_REGISTRY)


def get_spec(name: str) -> DatasetSpec:
    """Return the spec of a registered dataset (aliases and case are accepted).

    Raises:
        UnknownNameError: If no dataset has this name.
    """
    _load()
    key = name.strip().lower().replace("_", "-")
    if key in _REGISTRY:
        return _REGISTRY[key]
    for spec in _REGISTRY.values():
        if key in spec.aliases:
            return spec
    raise UnknownNameError("dataset", name, sorted(_REGISTRY))
