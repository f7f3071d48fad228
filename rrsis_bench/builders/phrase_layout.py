"""Phrase-file layouts: where a release's folders and files are, and the options that change it.

Example:
    >>> layout = apply_options(PhraseLayout(title="mine"), {"image_dir": "img", "splits": "test"})
    >>> layout.image_dirs, dict(layout.phrase_files)
    (('img',), {'test': ('output_phrase_test.txt',)})
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rrsis_bench.errors import OptionError, UnknownNameError
from rrsis_bench.schema import SPLITS


@dataclass(frozen=True)
class PhraseLayout:
    """Where the files of a phrase-file release are and how to read them.

    Attributes:
        title: Human name used in messages (``RefSegRS``).
        image_dirs: Image folder names; the first that exists is used (aliases after the first).
        mask_dirs: Mask folder names, likewise.
        phrase_files: Per split, the accepted phrase-file names (first that exists is used).
        top_dirs: Folder names that may wrap the release (``--raw`` may name either level).
        archives: Archive names looked for inside ``--raw`` (``RefSegRS.zip``).
        image_ext: Suffix of an image file when the first token has none (``""``: any file
            whose stem is the token).
        mask_ext: Likewise for masks.
        id_pattern: Regular expression the id (token without suffix) must match in full.
        threshold: Binarisation rule: foreground is ``value > threshold``.
        lexicon: Category words looked for in the text (flag ``category_from_text``).
        exclusions: Flag name to the ids (stems) on a published exclusion list.
    """

    title: str
    image_dirs: tuple[str, ...] = ("images",)
    mask_dirs: tuple[str, ...] = ("masks",)
    phrase_files: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {s: (f"output_phrase_{s}.txt",) for s in SPLITS}
    )
    top_dirs: tuple[str, ...] = ()
    archives: tuple[str, ...] = ()
    image_ext: str = ""
    mask_ext: str = ""
    id_pattern: str | None = None
    threshold: int = 50
    lexicon: tuple[str, ...] = ()
    exclusions: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class ResolvedLayout:
    """The folders and files actually found under a dataset root."""

    image_dir: Path
    mask_dir: Path
    phrase_files: dict[str, Path]


OPTION_NAMES: tuple[str, ...] = (
    "dataset_name",
    "title",
    "image_dir",
    "mask_dir",
    "phrase_file",
    "splits",
    "image_ext",
    "mask_ext",
    "id_pattern",
    "mask_threshold",
    "lexicon",
)


def _words(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(str(v).strip() for v in items if str(v).strip())


def _ext(value: Any) -> str:
    text = str(value).strip()
    return text if not text or text.startswith(".") else "." + text


def apply_options(layout: PhraseLayout, options: Mapping[str, Any]) -> PhraseLayout:
    """Return ``layout`` with the user's options applied.

    Options: ``image_dir``, ``mask_dir`` (folder names), ``phrase_file`` (a name with
    ``{split}``), ``splits`` (comma-separated), ``image_ext``, ``mask_ext``, ``id_pattern``,
    ``mask_threshold`` (int), ``lexicon`` (comma-separated words); ``dataset_name`` and ``title``
    name the build.

    Raises:
        UnknownNameError: For an option the phrase-file reader does not know.
        OptionError: For a value that cannot be used (``phrase_file`` without ``{split}``,
            a threshold that is not an integer, an invalid ``id_pattern``).
    """
    changes: dict[str, Any] = {}
    for key in options:
        if key not in OPTION_NAMES:
            raise UnknownNameError("phrase-file option", key, OPTION_NAMES)
    if "title" in options:
        changes["title"] = str(options["title"])
    if "image_dir" in options:
        changes["image_dirs"] = (str(options["image_dir"]),)
    if "mask_dir" in options:
        changes["mask_dirs"] = (str(options["mask_dir"]),)
    splits = tuple(layout.phrase_files)
    if "splits" in options:
        from rrsis_bench.schema import normalize_split

        splits = tuple(normalize_split(s) for s in _words(options["splits"]))
        if not splits:
            raise OptionError("Expected option splits to name at least one split, but got none")
    if "phrase_file" in options:
        template = str(options["phrase_file"])
        if "{split}" not in template:
            raise OptionError(
                f"Expected option phrase_file to contain '{{split}}', but got {template!r}"
            )
        changes["phrase_files"] = {s: (template.format(split=s),) for s in splits}
    elif "splits" in options:
        changes["phrase_files"] = {
            s: layout.phrase_files.get(s, (f"output_phrase_{s}.txt",)) for s in splits
        }
    for key in ("image_ext", "mask_ext"):
        if key in options:
            changes[key] = _ext(options[key])
    if "id_pattern" in options:
        changes["id_pattern"] = str(options["id_pattern"])
        try:
            re.compile(changes["id_pattern"])
        except re.error as exc:
            raise OptionError(
                f"Expected option id_pattern to be a regular expression, but got "
                f"{changes['id_pattern']!r} ({exc})"
            ) from None
    if "mask_threshold" in options:
        try:
            changes["threshold"] = int(str(options["mask_threshold"]).strip())
        except ValueError:
            raise OptionError(
                f"Expected option mask_threshold to be an integer, but got "
                f"{options['mask_threshold']!r}"
            ) from None
    if "lexicon" in options:
        changes["lexicon"] = _words(options["lexicon"])
    return dataclasses.replace(layout, **changes)


@dataclass(frozen=True)
class _Listing:
    """The files of one folder: names, and names by stem (for tokens without a suffix)."""

    names: frozenset[str]
    by_stem: Mapping[str, tuple[str, ...]]

    def __len__(self) -> int:
        return len(self.names)


def listing(folder: Path) -> _Listing:
    """File names in ``folder`` (hidden files skipped)."""
    with os.scandir(folder) as it:
        names = sorted(e.name for e in it if e.is_file() and not e.name.startswith("."))
    by_stem: dict[str, list[str]] = {}
    for name in names:
        by_stem.setdefault(name.rsplit(".", 1)[0], []).append(name)
    return _Listing(frozenset(names), {k: tuple(v) for k, v in by_stem.items()})


def find_file(listing: _Listing, stem: str, suffix: str, default_ext: str) -> str | None:
    """The file of a sample: the token's own suffix, else ``default_ext``, else a unique stem."""
    for ext in (suffix, default_ext):
        if ext and stem + ext in listing.names:
            return stem + ext
    if not suffix and not default_ext and stem in listing.names:
        return stem
    matches = listing.by_stem.get(stem, ())
    return matches[0] if len(matches) == 1 else None
