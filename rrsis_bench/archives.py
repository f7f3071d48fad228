"""Safe extraction of downloaded archives (``RefSegRS.zip``, ``JPEGImages.zip``, ...).

Every member is checked before anything is written: absolute paths, ``..`` components, links,
device files and decompression bombs (total size or per-member ratio above the limits) are
refused with an error naming the archive and the member. Extraction goes to a temporary folder
inside the cache and is renamed into place only when complete; the cache key is the archive's
sha256, so a second build reuses the extracted files.

Example:
    >>> from rrsis_bench.archives import is_archive
    >>> is_archive("RefSegRS.zip"), is_archive("refs(unc).p")
    (True, False)
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rrsis_bench.errors import DatasetNotFoundError, FormatError, UnsafeArchiveError
from rrsis_bench.images import sha256_file
from rrsis_bench.progress import track
from rrsis_bench.tempdirs import partial_sibling, remove_stale_partials, sigterm_interrupts

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
MAX_TOTAL_BYTES = 64 * 1024**3
MAX_RATIO = 200.0
MAX_MEMBERS = 2_000_000


@dataclass(frozen=True)
class Member:
    """One archive member as seen before extraction."""

    name: str
    size: int
    compressed: int
    kind: str  # "file", "dir", "link", "other"


def is_archive(path: str | Path) -> bool:
    """True if the name ends with a supported archive suffix."""
    name = str(path).lower()
    return any(name.endswith(s) for s in ARCHIVE_SUFFIXES)


def cache_root() -> Path:
    """Where archives are extracted: ``$RRSIS_BENCH_HOME/extracted``."""
    from rrsis_bench.store import home

    return home() / "extracted"


def _members(archive: Path) -> Iterator[Member]:
    if archive.name.lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    kind = "link"
                elif info.is_dir():
                    kind = "dir"
                elif stat.S_IFMT(mode) and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
                    kind = "other"
                else:
                    kind = "file"
                yield Member(info.filename, info.file_size, info.compress_size, kind)
    else:
        with tarfile.open(archive) as tf:
            for ti in tf.getmembers():
                kind = (
                    "file"
                    if ti.isfile()
                    else "dir"
                    if ti.isdir()
                    else "link"
                    if (ti.issym() or ti.islnk())
                    else "other"
                )
                yield Member(ti.name, ti.size, ti.size, kind)


def check_archive(
    archive: Path, max_total_bytes: int = MAX_TOTAL_BYTES, max_ratio: float = MAX_RATIO
) -> list[Member]:
    """List an archive's members and refuse anything unsafe.

    Raises:
        UnsafeArchiveError: Naming the archive and the first unsafe member.
        FormatError: If the file is not a readable archive.
    """
    try:
        members = list(_members(archive))
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise FormatError(
            f"not a readable archive ({exc}); download it again (the file may be truncated)",
            archive,
        ) from exc
    if len(members) > MAX_MEMBERS:
        raise UnsafeArchiveError(
            f"{len(members)} members is more than the limit {MAX_MEMBERS}", archive
        )
    total = 0
    for m in members:
        pure = PurePosixPath(m.name.replace("\\", "/"))
        if m.name.startswith(("/", "\\")) or (len(m.name) > 1 and m.name[1] == ":"):
            raise UnsafeArchiveError(
                f"member {m.name!r} has an absolute path; refusing to extract", archive
            )
        if ".." in pure.parts:
            raise UnsafeArchiveError(
                f"member {m.name!r} contains '..'; refusing to extract", archive
            )
        if m.kind == "link":
            raise UnsafeArchiveError(f"member {m.name!r} is a link; refusing to extract", archive)
        if m.kind == "other":
            raise UnsafeArchiveError(
                f"member {m.name!r} is not a regular file; refusing to extract", archive
            )
        total += m.size
        if m.kind == "file" and m.size > 1_000_000 and m.size > max_ratio * max(m.compressed, 1):
            raise UnsafeArchiveError(
                f"member {m.name!r} expands {m.size / max(m.compressed, 1):.0f}× "
                f"(limit {max_ratio:.0f}×): a decompression bomb? refusing to extract",
                archive,
            )
    if total > max_total_bytes:
        raise UnsafeArchiveError(
            f"members total {total:,} bytes, above the limit {max_total_bytes:,}; refusing to extract",
            archive,
        )
    return members


def extract(
    archive: str | Path,
    dest: Path | None = None,
    *,
    max_total_bytes: int = MAX_TOTAL_BYTES,
    max_ratio: float = MAX_RATIO,
    progress: bool | None = None,
) -> Path:
    """Extract ``archive`` safely and return the folder holding its members.

    With ``dest=None`` the folder is ``cache_root()/<stem>-<sha256[:16]>`` and an existing
    complete extraction is reused.
    """
    archive = Path(archive).expanduser()
    if not archive.is_file():
        raise DatasetNotFoundError(f"{archive}: archive not found")
    members = check_archive(archive, max_total_bytes, max_ratio)
    if dest is None:
        stem = archive.name.split(".")[0]
        dest = cache_root() / f"{stem}-{sha256_file(archive)[:16]}"
    if dest.is_dir() and (dest / ".complete").is_file():
        return dest
    remove_stale_partials(dest)
    tmp = partial_sibling(dest)
    tmp.mkdir(parents=True)
    with sigterm_interrupts():
        _extract_into(archive, members, tmp, dest, progress)
    return dest


def _extract_into(
    archive: Path, members: list[Member], tmp: Path, dest: Path, progress: bool | None
) -> None:
    try:
        files = [m for m in members if m.kind == "file"]
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for m in track(files, f"extracting {archive.name}", len(files), progress):
                    _copy_member(zf.open(m.name), tmp, m)
        else:
            with tarfile.open(archive) as tf:
                for m in track(files, f"extracting {archive.name}", len(files), progress):
                    src = tf.extractfile(m.name)
                    if src is None:
                        continue
                    _copy_member(src, tmp, m)
        (tmp / ".complete").write_text(archive.name + "\n", encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _copy_member(src: object, root: Path, m: Member) -> None:
    target = root.joinpath(*PurePosixPath(m.name.replace("\\", "/")).parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with src as fin, open(target, "wb") as fout:  # type: ignore[attr-defined]
        while block := fin.read(1 << 20):
            written += len(block)
            if written > m.size:
                raise UnsafeArchiveError(
                    f"member {m.name!r} expands beyond its declared size {m.size:,}; refusing", root
                )
            fout.write(block)
