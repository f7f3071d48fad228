"""Loading a built dataset as Hugging Face ``datasets`` objects, without a cache copy.

``datasets.load_dataset(<build folder>)`` works on every build, but for Parquet it first copies
every shard into an Arrow file under ``~/.cache/huggingface/datasets`` (image bytes included;
see ``bench/results/load.md``). :func:`load` gives the same ``Dataset`` / ``DatasetDict`` (same
features, same rows, images decoded on access) without writing anything:

- ``streaming=False``: each split's shards are read into an in-memory Arrow table (memory-mapped
  reads, nothing written to disk). Memory is the size of the columns read: leave the ``image``
  column out with ``columns=`` for annotation-only work, or use the expression view
  (:func:`expressions`) or the torch dataset, which read one image at a time.
- ``streaming=True``: an ``IterableDataset`` per split that reads the shards as it goes.

Example:
    >>> import rrsis_bench                                         # doctest: +SKIP
    >>> ds = rrsis_bench.load("rrsis-d", split="test")             # doctest: +SKIP
    >>> ds[0]["image"].size, ds[0]["expressions"][0]["text"]       # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from rrsis_bench.errors import UnknownNameError
from rrsis_bench.expressions import ExpressionView
from rrsis_bench.schema import FEATURES
from rrsis_bench.store import BuiltDataset, iter_shard_rows, open_dataset, read_shard

__all__ = ["expressions", "load"]


def _features(columns: Sequence[str] | None) -> Any:
    from datasets import Features

    if columns is None:
        return FEATURES
    return Features({c: FEATURES[c] for c in columns})


def _check_columns(columns: Sequence[str] | None) -> list[str] | None:
    if columns is None:
        return None
    cols = list(columns)
    for c in cols:
        if c not in FEATURES:
            raise UnknownNameError("column", c, list(FEATURES))
    return [c for c in FEATURES if c in cols]


def _split_table(ds: BuiltDataset, split: str, columns: list[str] | None) -> pa.Table:
    tables = [read_shard(p, columns, memory_map=True) for p in ds.shard_paths(split)]
    table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
    schema = _features(columns).arrow_schema
    if table.schema.equals(schema, check_metadata=False):
        return table.replace_schema_metadata(schema.metadata)  # no copy of the data
    return table.cast(schema)


def _in_memory(ds: BuiltDataset, split: str, columns: list[str] | None) -> Any:
    import datasets
    from datasets.table import InMemoryTable

    info = datasets.DatasetInfo(features=_features(columns), dataset_name=ds.name)
    return datasets.Dataset(
        InMemoryTable(_split_table(ds, split, columns)),
        info=info,
        split=datasets.NamedSplit(split),
    )


def _generate(shards: list[str], columns: list[str] | None) -> Iterator[dict[str, Any]]:
    for shard in shards:
        yield from iter_shard_rows(Path(shard), columns, batch_size=16)


def _streaming(ds: BuiltDataset, split: str, columns: list[str] | None) -> Any:
    import datasets

    shards = [str(p) for p in ds.shard_paths(split)]
    return datasets.IterableDataset.from_generator(
        _generate,
        features=_features(columns),
        gen_kwargs={"shards": shards, "columns": columns},
        split=datasets.NamedSplit(split),
    )


def load(
    name_or_path: str | Path,
    split: str | None = None,
    streaming: bool = False,
    *,
    columns: Sequence[str] | None = None,
) -> Any:
    """Load a built dataset as ``datasets`` objects (one row per image), with no cache copy.

    Args:
        name_or_path: A registered dataset name (built under ``$RRSIS_BENCH_HOME``) or a build
            folder.
        split: ``train``, ``val`` or ``test`` (``validation`` is accepted); ``None`` loads every
            split into a ``DatasetDict``.
        streaming: Return ``IterableDataset`` objects that read the shards as they go.
        columns: Read only these columns (e.g. everything but ``image``).

    Returns:
        ``datasets.Dataset`` for one split, ``datasets.DatasetDict`` for all (``IterableDataset``
        / ``IterableDatasetDict`` when streaming), with the format-v1 features: ``image`` decodes
        to ``PIL.Image`` and ``target_type`` is a ``ClassLabel``.

    Raises:
        DatasetNotFoundError: If there is no build, or no such split in it.
        UnknownNameError: If a column is not a format-v1 column.
    """
    import datasets

    ds = open_dataset(name_or_path)
    cols = _check_columns(columns)
    make = _streaming if streaming else _in_memory
    if split is not None:
        return make(ds, ds.check_split(split), cols)
    parts = {s: make(ds, s, cols) for s in ds.splits}
    return datasets.IterableDatasetDict(parts) if streaming else datasets.DatasetDict(parts)


def expressions(
    name_or_path: str | Path,
    split: str | None = None,
    *,
    target_types: Iterable[str] | None = None,
    categories: Iterable[str] | None = None,
    languages: Iterable[str] | None = None,
) -> ExpressionView:
    """The expression-level view of a build (see :class:`~rrsis_bench.expressions.ExpressionView`).

    Example:
        >>> view = expressions("rrsis-d", "test", target_types=["single"])  # doctest: +SKIP
        >>> view[0].text, view[0].mask.sum()                                # doctest: +SKIP
    """
    return ExpressionView(
        name_or_path,
        split,
        target_types=target_types,
        categories=categories,
        languages=languages,
    )
