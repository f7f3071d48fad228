"""Finding the files of a REFER-style release on disk.

The REFER layout is ``<root>/<name>/refs(<splitBy>).p`` + ``<root>/<name>/instances.json`` +
``<root>/images/<name>/JPEGImages/``. Releases also come flat (the annotation files and
``JPEGImages.zip`` side by side, as a Google Drive folder downloads), with the images unzipped
next to the annotation files, or with other file and folder names (NWPU-Refer:
``new_refs(unc).p``, ``image/image/``). :func:`find_root` accepts ``--raw`` at either level;
:func:`resolve_layout` then finds the annotation files and the image folder, extracting a
``JPEGImages.zip`` beside the annotation files with :func:`rrsis_bench.archives.extract`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from rrsis_bench.archives import extract
from rrsis_bench.errors import DatasetNotFoundError


@dataclass(frozen=True)
class ReferFiles:
    """Names a REFER-style release uses (``{name}`` and ``{split_by}`` are filled in).

    Attributes:
        name: The annotation folder name (``rrsisd``); empty when the files sit at the root.
        split_by: The REFER ``splitBy`` (``unc``).
        refs: Candidate refs file names, first match wins.
        instances: Candidate instances file names.
        image_dirs: Candidate image folders, relative to the root or the annotation folder.
        image_archives: Archive names beside the annotation files holding the images.
        ann_split_dirs: Candidate ``ann_split`` XML folders (empty: no XML cross-check).
        ann_split_archives: Archive names holding the ``ann_split`` XML files.
    """

    name: str
    split_by: str = "unc"
    refs: tuple[str, ...] = ("refs({split_by}).p",)
    instances: tuple[str, ...] = ("instances.json",)
    image_dirs: tuple[str, ...] = (
        "images/{name}/JPEGImages",
        "JPEGImages",
        "images/{name}",
        "images",
    )
    image_archives: tuple[str, ...] = ("JPEGImages.zip",)
    ann_split_dirs: tuple[str, ...] = ()
    ann_split_archives: tuple[str, ...] = ()

    def fill(self, pattern: str) -> str:
        """Fill ``{name}`` and ``{split_by}`` into a pattern."""
        return pattern.format(name=self.name, split_by=self.split_by)

    def refs_names(self) -> list[str]:
        """Refs file names, filled in."""
        return [self.fill(p) for p in self.refs]

    def instances_names(self) -> list[str]:
        """Instances file names, filled in."""
        return [self.fill(p) for p in self.instances]


@dataclass
class ReferLayout:
    """Where the files of one release are.

    Attributes:
        root: The dataset root; ``file_name`` values are relative to it.
        ann_dir: The folder holding the refs and instances files.
        refs: The refs pickle.
        instances: The instances JSON.
        image_dir: The folder the images are read from (may be an extraction cache).
        image_prefix: POSIX prefix of ``file_name`` for images of ``image_dir``: their path
            relative to the root, or for an extracted archive the path they would have if
            it were extracted beside itself.
        image_archive: The archive the images came from, if any.
        ann_split_dir: Folder of ``ann_split`` XML files, if any (may be an extraction cache).
        ann_split_archive: The archive the XML files came from, if any.
        ann_split_prefix: POSIX prefix of the manifest key of each XML file: its folder
            relative to the root, or for an extracted archive the member folder as it would be
            if extracted beside the archive (``ann_split/``).
        notes: What was recognised (reported as a ``layout`` finding).
    """

    root: Path
    ann_dir: Path
    refs: Path
    instances: Path
    image_dir: Path | None = None
    image_prefix: str = ""
    image_archive: Path | None = None
    ann_split_dir: Path | None = None
    ann_split_archive: Path | None = None
    ann_split_prefix: str = ""
    notes: list[str] = field(default_factory=list)


def _first_file(folder: Path, names: Iterable[str]) -> Path | None:
    for n in names:
        p = folder / n
        if p.is_file():
            return p
    return None


def _annotation_dir(folder: Path, files: ReferFiles) -> Path | None:
    """The folder holding a refs file: ``folder/<name>/`` or ``folder`` itself."""
    refs = files.refs_names()
    if files.name and _first_file(folder / files.name, refs) is not None:
        return folder / files.name
    if _first_file(folder, refs) is not None:
        return folder
    return None


def find_root(raw: Path, files: ReferFiles) -> Path:
    """Return the dataset root for ``--raw`` given at the root, one level above or below it.

    Raises:
        DatasetNotFoundError: No refs file is found; the message lists where it was looked for.
    """
    raw = raw.expanduser()
    if raw.is_file():
        raise DatasetNotFoundError(
            f"{raw}: --raw must be the release folder (the one holding {_where(files)}), not a file"
        )
    ann = _annotation_dir(raw, files)
    if ann is not None:
        # --raw names the annotation folder itself: the root is its parent when images live there
        if (
            files.name
            and ann == raw
            and raw.name == files.name
            and (raw.parent / "images").is_dir()
        ):
            return raw.parent
        return raw
    found = [c for c in sorted(p for p in raw.iterdir() if p.is_dir()) if _annotation_dir(c, files)]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise DatasetNotFoundError(
            f"{raw}: several releases found ({', '.join(p.name for p in found)}); "
            "pass one of them as --raw"
        )
    raise DatasetNotFoundError(
        f"{raw}: no {' or '.join(files.refs_names())} found (looked for {_where(files)} in this "
        "folder and its subfolders); pass --raw pointing at the downloaded release"
    )


def _where(files: ReferFiles) -> str:
    refs = files.refs_names()[0]
    return f"{files.name}/{refs}" if files.name else refs


def _count_present(folder: Path, names: Sequence[str]) -> int:
    base = str(folder)
    return sum(1 for n in names if os.path.isfile(os.path.join(base, n)))


def _candidate_dirs(root: Path, ann_dir: Path, files: ReferFiles) -> list[Path]:
    out: list[Path] = []
    for pattern in files.image_dirs:
        rel = files.fill(pattern)
        for base in (root, ann_dir):
            p = (base / rel) if rel not in ("", ".") else base
            if p not in out:
                out.append(p)
    return out


def _best_folder(candidates: Iterable[Path], names: Sequence[str]) -> tuple[Path | None, int]:
    best, best_n = None, 0
    for c in candidates:
        if not c.is_dir():
            continue
        n = _count_present(c, names)
        if n > best_n:
            best, best_n = c, n
    return best, best_n


def _walk_dirs(top: Path, depth: int) -> list[Path]:
    out = [top]
    level = [top]
    for _ in range(depth):
        level = sorted(c for p in level for c in p.iterdir() if c.is_dir())
        out.extend(level)
    return out


def _posix_rel(path: Path, root: Path) -> str:
    try:
        return path.absolute().relative_to(root.absolute()).as_posix()
    except ValueError:
        return path.name


def _prefix(rel: str) -> str:
    return "" if rel in ("", ".") else rel.rstrip("/") + "/"


def locate_images(
    layout: ReferLayout,
    files: ReferFiles,
    file_names: Sequence[str],
    *,
    explicit: str | None = None,
    progress: bool | None = None,
) -> None:
    """Find the folder holding the images named in the annotations and set it on ``layout``.

    ``file_names`` is a sample of the image file names the annotations use. The candidate
    folder holding most of them wins; when none holds any, an image archive beside the
    annotation files (``JPEGImages.zip``) is extracted safely into the cache and searched.

    Raises:
        DatasetNotFoundError: No folder or archive holds the images; the message says exactly
            what to extract where.
    """
    sample = list(file_names)[:200]
    if explicit is not None:
        folder = (layout.root / explicit) if not Path(explicit).is_absolute() else Path(explicit)
        if not folder.is_dir():
            raise DatasetNotFoundError(
                f"{folder}: the image folder given with image_dir does not exist"
            )
        layout.image_dir = folder
        layout.image_prefix = _prefix(_posix_rel(folder, layout.root))
        layout.notes.append(f"images: {layout.image_prefix or './'} (given)")
        return
    best, n = _best_folder(_candidate_dirs(layout.root, layout.ann_dir, files), sample)
    if best is not None:
        layout.image_dir = best
        layout.image_prefix = _prefix(_posix_rel(best, layout.root))
        layout.notes.append(
            f"images: {layout.image_prefix or './'} ({n} of {len(sample)} sampled names present)"
        )
        return
    for base in (layout.ann_dir, layout.root):
        archive = _first_file(base, [files.fill(a) for a in files.image_archives])
        if archive is None:
            continue
        extracted = extract(archive, progress=progress)
        inner, n = _best_folder(_walk_dirs(extracted, 3), sample)
        if inner is None:
            raise DatasetNotFoundError(
                f"{archive}: the archive holds none of the images named in "
                f"{layout.instances.name} (e.g. {sample[0] if sample else '?'}); "
                "download it again"
            )
        parts = [
            p
            for p in (
                _posix_rel(archive.parent, layout.root),
                inner.relative_to(extracted).as_posix(),
            )
            if p not in ("", ".")
        ]
        layout.image_dir = inner
        layout.image_archive = archive
        layout.image_prefix = _prefix(str(PurePosixPath(*parts)) if parts else "")
        layout.notes.append(
            f"images: extracted from {_posix_rel(archive, layout.root)} "
            f"({n} of {len(sample)} sampled names present)"
        )
        return
    looked = ", ".join(
        _posix_rel(c, layout.root) or "."
        for c in _candidate_dirs(layout.root, layout.ann_dir, files)
    )
    example = sample[0] if sample else "<file_name>"
    target = layout.root / files.fill(files.image_dirs[0]) / example
    archives = " or ".join(files.fill(a) for a in files.image_archives) or "the image archive"
    raise DatasetNotFoundError(
        f"{layout.root}: none of the images named in {layout.instances.name} was found "
        f"(looked in {looked}). Extract {archives} so that {target} exists, "
        f"or put {archives} beside {layout.refs.name}"
    )


def locate_ann_split(layout: ReferLayout, files: ReferFiles, progress: bool | None = None) -> None:
    """Find the optional ``ann_split`` XML folder (or extract ``ann_split.zip``)."""
    if not files.ann_split_dirs:
        return
    for pattern in files.ann_split_dirs:
        rel = files.fill(pattern)
        for base in (layout.root, layout.ann_dir):
            p = base / rel
            if p.is_dir():
                layout.ann_split_dir = p
                layout.ann_split_prefix = _prefix(_posix_rel(p, layout.root))
                layout.notes.append(f"ann_split: {_posix_rel(p, layout.root)}")
                return
    for base in (layout.ann_dir, layout.root):
        archive = _first_file(base, [files.fill(a) for a in files.ann_split_archives])
        if archive is None:
            continue
        extracted = extract(archive, progress=progress)
        folder = next(
            (d for d in _walk_dirs(extracted, 3) if any(d.glob("*.xml"))),
            None,
        )
        if folder is not None:
            parts = [
                p
                for p in (
                    _posix_rel(archive.parent, layout.root),
                    folder.relative_to(extracted).as_posix(),
                )
                if p not in ("", ".")
            ]
            layout.ann_split_dir = folder
            layout.ann_split_archive = archive
            layout.ann_split_prefix = _prefix(str(PurePosixPath(*parts)) if parts else "")
            layout.notes.append(f"ann_split: extracted from {_posix_rel(archive, layout.root)}")
        return


def resolve_layout(root: Path, files: ReferFiles) -> ReferLayout:
    """Find the refs and instances files under ``root`` (images: :func:`locate_images`).

    Raises:
        DatasetNotFoundError: A file is missing; the message names it and where it was expected.
    """
    ann = _annotation_dir(root, files)
    if ann is None:
        raise DatasetNotFoundError(
            f"{root}: no {' or '.join(files.refs_names())} found (expected {_where(files)})"
        )
    refs = _first_file(ann, files.refs_names())
    instances = _first_file(ann, files.instances_names())
    if refs is None:  # pragma: no cover - _annotation_dir found it a moment ago
        raise DatasetNotFoundError(f"{ann}: {' or '.join(files.refs_names())} disappeared")
    if instances is None:
        raise DatasetNotFoundError(
            f"{ann}: {' or '.join(files.instances_names())} not found beside {refs.name}; "
            "the download is incomplete: fetch the instances file too"
        )
    layout = ReferLayout(root=root, ann_dir=ann, refs=refs, instances=instances)
    layout.notes.append(f"annotations: {_posix_rel(refs, root)}, {_posix_rel(instances, root)}")
    return layout
