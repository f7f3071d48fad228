"""Writing and reading built datasets (parquet shards, manifest, card, validation report).

A build is written to a temporary sibling folder and swapped in only when complete, so a
failed or interrupted build leaves an earlier one untouched. Writing is deterministic: rows are
sorted by split and image id, shard boundaries depend only on the data (never on
``num_proc``), and no file holds a timestamp or an absolute path.

Example:
    >>> from rrsis_bench.store import open_dataset          # doctest: +SKIP
    >>> ds = open_dataset("rrsis-d")                         # doctest: +SKIP
    >>> ds.splits, ds.gt_sha256("test")                      # doctest: +SKIP
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq

from rrsis_bench import __version__
from rrsis_bench.card import CardInfo, render_card
from rrsis_bench.errors import (
    BuildError,
    DatasetNotFoundError,
    FormatError,
    FormatVersionError,
    OutputExistsError,
    RRSISBenchError,
)
from rrsis_bench.images import sha256_file
from rrsis_bench.progress import track
from rrsis_bench.schema import (
    FORMAT_VERSION,
    SPLITS,
    TARGET_TYPES,
    ImageRecord,
    features,
    natural_key,
)
from rrsis_bench.tempdirs import partial_sibling, remove_stale_partials, sigterm_interrupts
from rrsis_bench.validate import Report, dumps

DEFAULT_MAX_SHARD_BYTES = 256 * 1024 * 1024
DEFAULT_ROW_GROUP_BYTES = 32 * 1024 * 1024
ROW_GROUP_MAX_ROWS = 256
MANIFEST = "manifest.json"
VALIDATION = "validation.json"
CARD = "README.md"


def home() -> Path:
    """Where built datasets live by default: ``$RRSIS_BENCH_HOME`` or ``~/.cache/rrsis-bench``."""
    env = os.environ.get("RRSIS_BENCH_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rrsis-bench"


def default_out(dataset: str) -> Path:
    """The default build folder of a dataset."""
    return home() / dataset


# --------------------------------------------------------------------------------------------
# writing


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _row_bytes(rec: ImageRecord) -> int:
    ann = sum(len(o.mask["counts"]) + 128 for o in rec.objects)
    ann += sum(len(e.mask["counts"]) + len(e.text.encode()) + 256 for e in rec.expressions)
    return int(rec.size_bytes) + ann + 256


def plan_shards(
    records: Sequence[ImageRecord], max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES
) -> dict[str, list[list[ImageRecord]]]:
    """Sort records and cut each split into shards of at most ``max_shard_bytes`` (estimated).

    The cut depends only on the records, so it is the same whatever the number of processes.
    """
    by_split: dict[str, list[ImageRecord]] = {}
    for rec in records:
        by_split.setdefault(rec.split, []).append(rec)
    plan: dict[str, list[list[ImageRecord]]] = {}
    for split in [s for s in SPLITS if s in by_split]:
        recs = sorted(by_split[split], key=lambda r: natural_key(r.image_id))
        shards: list[list[ImageRecord]] = [[]]
        size = 0
        for rec in recs:
            b = _row_bytes(rec)
            if shards[-1] and size + b > max_shard_bytes:
                shards.append([])
                size = 0
            shards[-1].append(rec)
            size += b
        plan[split] = shards
    return plan


def _row_groups(records: Sequence[ImageRecord]) -> Iterator[list[ImageRecord]]:
    group: list[ImageRecord] = []
    size = 0
    for rec in records:
        b = _row_bytes(rec)
        if group and (size + b > DEFAULT_ROW_GROUP_BYTES or len(group) >= ROW_GROUP_MAX_ROWS):
            yield group
            group, size = [], 0
        group.append(rec)
        size += b
    if group:
        yield group


def _read_image_bytes(rec: ImageRecord) -> bytes:
    try:
        return Path(rec.source).read_bytes()
    except OSError as exc:
        raise BuildError(
            f"{rec.source}: cannot read image {rec.image_id} while writing the shard "
            f"({exc.strerror or exc}); was the raw folder changed during the build?"
        ) from exc


_TARGET_INDEX = {name: i for i, name in enumerate(TARGET_TYPES)}


def _encode_row(row: dict[str, Any]) -> dict[str, Any]:
    """Arrow storage form of a format-v1 row: the only non-identity encoding is the ClassLabel.

    (``Features.encode_example`` gives the same result but walks every nested value in Python.)
    """
    for expr in row["expressions"]:
        expr["target_type"] = _TARGET_INDEX[expr["target_type"]]
    return row


class ShardWritten(NamedTuple):
    """What writing one shard produced: its hash and size, and the hash of every image in it."""

    sha256: str
    num_bytes: int
    image_sha256: dict[str, str]


def write_shard(path: Path, records: Sequence[ImageRecord]) -> ShardWritten:
    """Write one parquet shard carrying the HF ``Features`` metadata.

    Each image's bytes are read once, here: they are hashed (keyed by ``file_name``, for the
    manifest) as they are copied into the shard.
    """
    schema = features().arrow_schema
    images: dict[str, str] = {}
    # a native file: pyarrow writes pages straight to it (a Python file object in between costs
    # a copy and a call per page); the shard is hashed afterwards from the page cache
    with pa.OSFile(str(path), "wb") as sink:
        writer = pq.ParquetWriter(
            sink,
            schema,
            compression={"image.bytes": "NONE"} | {_c: "ZSTD" for _c in _non_image_columns()},
            use_dictionary=False,
            write_statistics=False,
            store_schema=True,
        )
        try:
            for group in _row_groups(records):
                rows = []
                for r in group:
                    data = _read_image_bytes(r)
                    images[r.file_name] = hashlib.sha256(data).hexdigest()
                    rows.append(_encode_row(r.to_row(data)))
                    del data
                writer.write_table(pa.Table.from_pylist(rows, schema=schema))
                del rows
        finally:
            writer.close()
    _fsync(path)
    return ShardWritten(sha256_file(path), path.stat().st_size, images)


def _leaf_columns(schema: pa.Schema) -> list[str]:
    out: list[str] = []

    def walk(prefix: str, typ: pa.DataType) -> None:
        if pa.types.is_struct(typ):
            for f in typ:
                walk(f"{prefix}.{f.name}", f.type)
        elif (
            pa.types.is_list(typ) or pa.types.is_fixed_size_list(typ) or pa.types.is_large_list(typ)
        ):
            walk(f"{prefix}.list.element", typ.value_type)
        else:
            out.append(prefix)

    for field in schema:
        walk(field.name, field.type)
    return out


@functools.cache
def _non_image_columns() -> tuple[str, ...]:
    return tuple(c for c in _leaf_columns(features().arrow_schema) if c != "image.bytes")


def _write_shard_job(args: tuple[Path, list[ImageRecord]]) -> ShardWritten:
    return write_shard(*args)


@dataclass(frozen=True)
class BuildInputs:
    """Everything a build writes besides the image rows."""

    dataset: str
    builder: str
    builder_version: str
    card: CardInfo
    raw_files: dict[str, str]
    options: dict[str, Any]


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()):
        if not (out / MANIFEST).is_file():
            raise OutputExistsError(
                f"{out} exists and is not an rrsis-bench build; choose another --out "
                "(it is never replaced)"
            )
        if not overwrite:
            raise OutputExistsError(f"{out} already holds a build; pass --overwrite to replace it")


def check_output(out: Path, overwrite: bool) -> None:
    """Fail early, before any work, if ``out`` cannot receive a build."""
    _check_out(Path(out), overwrite)


def write_dataset(
    out: Path,
    records: Sequence[ImageRecord],
    inputs: BuildInputs,
    report: Report,
    *,
    overwrite: bool = False,
    num_proc: int = 1,
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES,
    progress: bool | None = None,
) -> Path:
    """Write a built dataset atomically and return its folder.

    Raises:
        OutputExistsError: If ``out`` holds a build and ``overwrite`` is false, or holds
            something that is not a build.
        BuildError: If the output cannot be written (disk full, permission denied).
    """
    out = Path(out).absolute()
    _check_out(out, overwrite)
    remove_stale_partials(out)
    tmp = partial_sibling(out)
    with sigterm_interrupts():
        return _write_into(tmp, out, records, inputs, report, num_proc, max_shard_bytes, progress)


def _write_into(
    tmp: Path,
    out: Path,
    records: Sequence[ImageRecord],
    inputs: BuildInputs,
    report: Report,
    num_proc: int,
    max_shard_bytes: int,
    progress: bool | None,
) -> Path:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        (tmp / "data").mkdir(parents=True)
        plan = plan_shards(records, max_shard_bytes)
        jobs: list[tuple[str, Path, list[ImageRecord]]] = []
        for split, shards in plan.items():
            for i, shard in enumerate(shards):
                rel = f"data/{split}-{i:05d}-of-{len(shards):05d}.parquet"
                jobs.append((rel, tmp / rel, shard))
        results: dict[str, ShardWritten] = {}
        if num_proc > 1 and len(jobs) > 1:
            # the schema imports `datasets` (about a second): once here, not in every worker
            _non_image_columns()
            with ProcessPoolExecutor(max_workers=min(num_proc, len(jobs))) as pool:
                futures = pool.map(_write_shard_job, [(p, s) for _, p, s in jobs])
                for (rel, _, _), res in zip(
                    jobs, track(futures, "writing shards", len(jobs), progress), strict=True
                ):
                    results[rel] = res
        else:
            for rel, path, shard in track(jobs, "writing shards", len(jobs), progress):
                results[rel] = write_shard(path, shard)

        split_info: dict[str, Any] = {}
        for split, shards in plan.items():
            rels = [rel for rel, _, _ in jobs if rel.startswith(f"data/{split}-")]
            recs = [r for shard in shards for r in shard]
            tt = {"single": 0, "multi": 0, "none": 0}
            for r in recs:
                for e in r.expressions:
                    tt[e.target_type] += 1
            shard_hashes = [results[rel][0] for rel in rels]
            split_info[split] = {
                "images": len(recs),
                "expressions": sum(len(r.expressions) for r in recs),
                "objects": sum(len(r.objects) for r in recs),
                "target_types": tt,
                "shards": rels,
                "num_bytes": sum(results[rel][1] for rel in rels),
                "gt_sha256": hashlib.sha256("\n".join(shard_hashes).encode()).hexdigest(),
            }
        report.write(tmp / VALIDATION)
        manifest = {
            "format_version": FORMAT_VERSION,
            "toolkit_version": __version__,
            "dataset": inputs.dataset,
            "builder": {"name": inputs.builder, "version": inputs.builder_version},
            "options": inputs.options,
            "library_versions": _library_versions(),
            "raw_files": _raw_files(inputs.raw_files, results.values()),
            "shards": {rel: results[rel][0] for rel, _, _ in jobs},
            "splits": split_info,
            "counts": {
                k: sum(v[k] for v in split_info.values())
                for k in ("images", "expressions", "objects")
            },
            "validation": report.counts_by_severity(),
        }
        (tmp / MANIFEST).write_text(dumps(manifest), encoding="utf-8")
        vdict = report.to_dict()
        card = render_card(inputs.card, split_info, vdict, __version__)
        (tmp / CARD).write_text(card, encoding="utf-8")
        _swap_in(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        where = exc.filename or out
        raise BuildError(
            f"{where}: cannot write the build ({exc.strerror or exc}); free some space or "
            "choose a writable --out. The earlier build, if any, is untouched."
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _raw_files(known: dict[str, str], shards: Iterable[ShardWritten]) -> dict[str, str]:
    """The builder's raw-file hashes plus those of the images the shard writer read.

    Raises:
        BuildError: An image hashed by the builder has other bytes now (it changed mid-build).
    """
    out = dict(known)
    for shard in shards:
        for name, digest in getattr(shard, "image_sha256", {}).items():
            previous = out.setdefault(name, digest)
            if previous != digest:
                raise BuildError(
                    f"{name}: the image changed while the build ran (its sha256 differs from "
                    "the first read); build again once the raw folder is stable"
                )
    return dict(sorted(out.items()))


def _swap_in(tmp: Path, out: Path) -> None:
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(out, old)
    try:
        os.replace(tmp, out)
    except OSError:
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _library_versions() -> dict[str, str]:
    import datasets
    import pycocotools

    versions = {"pyarrow": pa.__version__, "datasets": datasets.__version__}
    versions["pycocotools"] = getattr(pycocotools, "__version__", "unknown")
    try:
        from importlib.metadata import version

        versions["pycocotools"] = version("pycocotools")
    except Exception:  # pragma: no cover - metadata missing in odd installs
        pass
    return versions


# --------------------------------------------------------------------------------------------
# reading


@dataclass
class BuiltDataset:
    """A built dataset on disk: its manifest and cheap access to its shards.

    Reading never needs image bytes unless the ``image`` column is asked for.
    """

    path: Path
    manifest: dict[str, Any]

    @property
    def name(self) -> str:
        """Registry name of the source dataset."""
        return str(self.manifest["dataset"])

    @property
    def splits(self) -> list[str]:
        """Splits present, in canonical order."""
        return [s for s in SPLITS if s in self.manifest["splits"]]

    def check_split(self, split: str) -> str:
        """Canonical split name, or an error naming the splits this build has."""
        from rrsis_bench.schema import normalize_split

        s = normalize_split(split)
        if s not in self.manifest["splits"]:
            raise DatasetNotFoundError(
                f"{self.path}: the build has no split {split!r}; it has {', '.join(self.splits)}"
            )
        return s

    def shard_paths(self, split: str) -> list[Path]:
        """Parquet shards of a split, in order."""
        s = self.check_split(split)
        return [self.path / rel for rel in self.manifest["splits"][s]["shards"]]

    def gt_sha256(self, split: str) -> str:
        """The split's ground-truth hash recorded in the manifest."""
        return str(self.manifest["splits"][self.check_split(split)]["gt_sha256"])

    def read_table(self, split: str, columns: Sequence[str] | None = None) -> pa.Table:
        """Read a split (selected columns only) as one Arrow table."""
        tables = [read_shard(p, columns) for p in self.shard_paths(split)]
        return pa.concat_tables(tables) if len(tables) > 1 else tables[0]

    def iter_rows(
        self, split: str, columns: Sequence[str] | None = None, batch_size: int = 64
    ) -> Iterator[dict[str, Any]]:
        """Stream rows of a split as Python dicts (selected columns only)."""
        for p in self.shard_paths(split):
            yield from iter_shard_rows(p, columns, batch_size)

    def validation(self) -> dict[str, Any]:
        """The content of ``validation.json``."""
        import json

        return dict(json.loads((self.path / VALIDATION).read_text(encoding="utf-8")))


def _damaged(path: Path, exc: BaseException) -> RRSISBenchError:
    if isinstance(exc, FileNotFoundError) or not Path(path).exists():
        return DatasetNotFoundError(
            f"{path}: a shard listed in the manifest is missing; the build is incomplete: "
            "rebuild it (`rrsis-bench build <dataset> --raw DIR --overwrite`)"
        )
    return FormatError(
        f"unreadable parquet shard ({exc}); the build is damaged: rebuild it "
        "(`rrsis-bench build <dataset> --raw DIR --overwrite`)",
        path,
    )


def open_shard(path: Path) -> pq.ParquetFile:
    """Open a shard of a build; a missing or damaged file is one clear error naming it.

    Raises:
        DatasetNotFoundError: The shard is missing.
        FormatError: The shard is not readable parquet (truncated, overwritten, ...).
    """
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise _damaged(path, exc) from exc


def read_shard(
    path: Path, columns: Sequence[str] | None = None, memory_map: bool = False
) -> pa.Table:
    """Read selected columns of one shard (errors as :func:`open_shard`)."""
    try:
        return pq.read_table(
            path, columns=list(columns) if columns else None, memory_map=memory_map
        )
    except (pa.ArrowException, OSError) as exc:
        raise _damaged(path, exc) from exc


def iter_shard_rows(
    path: Path, columns: Sequence[str] | None = None, batch_size: int = 64
) -> Iterator[dict[str, Any]]:
    """Stream the rows of one shard as Python dicts (errors as :func:`open_shard`)."""
    pf = open_shard(path)
    batches = pf.iter_batches(batch_size=batch_size, columns=list(columns) if columns else None)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as exc:
            raise _damaged(path, exc) from exc
        yield from batch.to_pylist()


def resolve(name_or_path: str | Path) -> Path:
    """Turn a dataset name or a path into a build folder (not checked for content).

    A path that exists wins; otherwise a registered name maps to ``$RRSIS_BENCH_HOME/<name>``.
    """
    p = Path(name_or_path).expanduser()
    if p.exists():
        return p
    from rrsis_bench.registry import get_spec

    try:
        spec = get_spec(str(name_or_path))
    except Exception:
        raise DatasetNotFoundError(
            f"{name_or_path}: no such built dataset folder and no registered dataset of this name; "
            "build one with `rrsis-bench build <dataset> --raw DIR` (see `rrsis-bench datasets`)"
        ) from None
    return default_out(spec.name)


def open_dataset(name_or_path: str | Path) -> BuiltDataset:
    """Open a built dataset by registry name or folder.

    Raises:
        DatasetNotFoundError: If no build is found; the message says how to build it.
        FormatVersionError: If the build has another format major version.
    """
    import json

    path = resolve(name_or_path)
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise DatasetNotFoundError(
            f"{path}: not a built dataset (no {MANIFEST}); build it with "
            f"`rrsis-bench build <dataset> --raw DIR --out {path}`"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"manifest is not valid JSON ({exc.msg}); rebuild the dataset",
            manifest_path,
            exc.lineno,
        ) from exc
    version = str(manifest.get("format_version", "0"))
    if version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
        raise FormatVersionError(
            f"{path}: built with format version {version}, this rrsis-bench reads "
            f"{FORMAT_VERSION}; rebuild with this version (`rrsis-bench build ... --overwrite`)"
        )
    return BuiltDataset(path, manifest)
