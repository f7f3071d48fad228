"""What every builder shares: the builder interface and the build context.

A builder turns a raw release into :class:`~rrsis_bench.schema.ImageRecord` objects and adds
validation findings to the context's report; :func:`rrsis_bench.builders.build` then writes
them with :mod:`rrsis_bench.store`.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rrsis_bench.card import CardInfo
from rrsis_bench.images import ImageScan, probe_file, scan_bytes, sha256_file
from rrsis_bench.progress import track
from rrsis_bench.schema import ImageRecord
from rrsis_bench.validate import Report


def _scan_one(args: tuple[str, bool, bool]) -> ImageScan | str:
    path, deep, hash_files = args
    try:
        if not hash_files and not deep:
            return probe_file(path)
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable: {exc.strerror or exc}"
    return scan_bytes(data, deep=deep)


@dataclass
class BuildContext:
    """State shared by the reading stage of one build.

    Attributes:
        root: The detected dataset root; ``file_name`` values are POSIX paths relative to it.
        report: Where findings go.
        num_proc: Processes for per-file work (scanning images, decoding masks).
        deep: Decode every image instead of checking its structure only.
        progress: Show progress bars (``None``: the process-wide setting).
        raw_files: sha256 of every raw file read, keyed by path relative to ``root``.
    """

    root: Path
    report: Report
    num_proc: int = 1
    deep: bool = False
    progress: bool | None = None
    raw_files: dict[str, str] = field(default_factory=dict)

    def rel(self, path: Path | str) -> str:
        """POSIX path of ``path`` relative to the dataset root."""
        p = Path(path)
        try:
            return p.absolute().relative_to(self.root.absolute()).as_posix()
        except ValueError:
            return p.name

    def hash_file(self, path: Path) -> str:
        """sha256 of a raw file, recorded for the manifest."""
        digest = sha256_file(path)
        self.raw_files[self.rel(path)] = digest
        return digest

    def scan_images(
        self, paths: Sequence[Path], what: str = "scanning images", *, hash_files: bool = True
    ) -> dict[Path, ImageScan | str]:
        """Read, hash and structurally check image files, in ``num_proc`` processes.

        Returns, per path, an :class:`ImageScan` or a string (``"missing"`` or
        ``"unreadable: ..."``). Hashes of the files read are recorded in ``raw_files``.

        With ``hash_files=False`` (and not ``deep``) JPEG and PNG files are only probed
        (:func:`rrsis_bench.images.probe_file`: header and end marker, no hash); the shard
        writer hashes their bytes when it copies them, so each image is read once.
        """
        unique = list(dict.fromkeys(p if isinstance(p, Path) else Path(p) for p in paths))
        args = [(str(p), self.deep, hash_files) for p in unique]
        results: list[ImageScan | str]
        heavy = hash_files or self.deep  # a probe is a few small reads: processes do not pay
        if self.num_proc > 1 and len(args) > 32 and heavy:
            chunk = max(1, min(64, len(args) // (self.num_proc * 8) or 1))
            with ProcessPoolExecutor(max_workers=self.num_proc) as pool:
                results = list(
                    track(
                        pool.map(_scan_one, args, chunksize=chunk), what, len(args), self.progress
                    )
                )
        else:
            results = [_scan_one(a) for a in track(args, what, len(args), self.progress)]
        out: dict[Path, ImageScan | str] = {}
        for p, res in zip(unique, results, strict=True):
            out[p] = res
            if isinstance(res, ImageScan) and res.sha256:
                self.raw_files[self.rel(p)] = res.sha256
        return out


class Builder(abc.ABC):
    """A reader for one raw layout.

    Subclasses set ``name`` (the registry name) and implement :meth:`locate` and :meth:`read`.
    Options given to the constructor are recorded in the manifest.
    """

    name: ClassVar[str]
    version: ClassVar[str] = "1"

    def __init__(self, **options: Any):
        self.options = options

    @abc.abstractmethod
    def locate(self, raw: Path) -> Path:
        """Return the dataset root inside ``raw`` (either level of the layout is accepted).

        Raises:
            DatasetNotFoundError: Naming what is missing and where it was looked for.
        """

    @abc.abstractmethod
    def read(self, ctx: BuildContext) -> list[ImageRecord]:
        """Read the release under ``ctx.root`` into records, adding findings to ``ctx.report``."""

    def card_info(self) -> CardInfo:
        """Facts for the dataset card (from the registry by default)."""
        from rrsis_bench.registry import get_spec

        spec = get_spec(self.name)
        return CardInfo(
            name=spec.name,
            title=spec.title,
            licence=spec.licence,
            citation=spec.citation,
            homepage=spec.homepage,
            description=spec.description,
            protocol=spec.protocol,
        )

    def published_counts(self) -> tuple[dict[str, int], str]:
        """Published counts and their unit, compared with what the build found."""
        from rrsis_bench.registry import get_spec

        spec = get_spec(self.name)
        return dict(spec.published_counts), spec.published_unit

    def dataset_name(self) -> str:
        """Name recorded in the manifest (the registry name unless an option overrides it)."""
        return str(self.options.get("dataset_name") or self.name)

    def manifest_options(self) -> dict[str, Any]:
        """Options recorded in the manifest (JSON-serialisable, no absolute paths)."""
        return {k: v for k, v in sorted(self.options.items()) if not isinstance(v, os.PathLike)}
