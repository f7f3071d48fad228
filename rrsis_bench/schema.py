"""The unified format (v1): Hugging Face ``Features``, record types and naming rules.

A built dataset has one row per image. Each row nests the image's annotated instances
(``objects``) and its referring expressions (``expressions``); an expression's ``mask`` is the
union of its objects (or the source mask where a source has no instances). Masks are COCO
compressed RLE with string counts.

Example:
    >>> from rrsis_bench.schema import FEATURES, TARGET_TYPES
    >>> list(FEATURES)[:4]
    ['image_id', 'image', 'width', 'height']
    >>> TARGET_TYPES
    ('single', 'multi', 'none')
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from rrsis_bench.errors import UnknownNameError

if TYPE_CHECKING:
    from datasets import Features

FORMAT_VERSION = "1.0"
"""``major.minor``: a reader refuses a build of another major version."""

SPLITS: tuple[str, ...] = ("train", "val", "test")
SPLIT_ALIASES: dict[str, str] = {"validation": "val", "valid": "val", "dev": "val"}

TargetType = Literal["single", "multi", "none"]
TARGET_TYPES: tuple[TargetType, ...] = ("single", "multi", "none")

Language = Literal["en", "zh", "mixed", "other"]

SAMPLE_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class Rle(TypedDict):
    """COCO compressed RLE with string counts; ``size`` is ``[height, width]``."""

    size: list[int]
    counts: str


@functools.cache
def features() -> Features:
    """The Hugging Face features of every built dataset (format v1).

    Built on first use, so that importing rrsis-bench does not import ``datasets`` (about a
    second); ``rrsis_bench.schema.FEATURES`` is the same object.
    """
    from datasets import ClassLabel, Features, Image, List, Value

    rle = {"size": List(Value("int32"), length=2), "counts": Value("string")}
    obj = {
        "object_id": Value("string"),
        "category": Value("string"),
        "category_id": Value("int64"),
        "bbox": List(Value("float32"), length=4),
        "mask": rle,
        "area": Value("int64"),
        "flags": List(Value("string")),
    }
    provenance = {
        "file": Value("string"),
        "line": Value("int64"),
        "ref_ids": List(Value("string")),
        "ann_ids": List(Value("string")),
        "sent_ids": List(Value("string")),
    }
    expression = {
        "sample_id": Value("string"),
        "text": Value("string"),
        "language": Value("string"),
        "target_type": ClassLabel(names=list(TARGET_TYPES)),
        "ref_key": Value("string"),
        "object_ids": List(Value("string")),
        "categories": List(Value("string")),
        "mask": rle,
        "area": Value("int64"),
        "provenance": provenance,
        "flags": List(Value("string")),
    }
    return Features(
        {
            "image_id": Value("string"),
            "image": Image(),
            "width": Value("int32"),
            "height": Value("int32"),
            "split": Value("string"),
            "file_name": Value("string"),
            "objects": List(obj),
            "expressions": List(expression),
        }
    )


if TYPE_CHECKING:
    FEATURES: Features
    """The Hugging Face features of every built dataset (format v1); see :func:`features`."""


def __getattr__(name: str) -> Any:
    if name == "FEATURES":
        return features()
    raise AttributeError(f"module 'rrsis_bench.schema' has no attribute {name!r}")


def normalize_split(name: str) -> str:
    """Return the canonical split name (``train``, ``val``, ``test``).

    ``validation`` (and ``valid``, ``dev``) are accepted as aliases of ``val``.

    Raises:
        UnknownNameError: If ``name`` is not a split name.

    Example:
        >>> normalize_split("validation")
        'val'
    """
    key = name.strip().lower()
    key = SPLIT_ALIASES.get(key, key)
    if key not in SPLITS:
        raise UnknownNameError("split", name, SPLITS)
    return key


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def detect_language(text: str) -> Language:
    """Tag a sentence as ``en``, ``zh``, ``mixed`` (both scripts) or ``other``.

    Example:
        >>> detect_language("all cars"), detect_language("跑道上的飞机"), detect_language("3号 car")
        ('en', 'zh', 'mixed')
    """
    has_cjk = bool(_CJK.search(text))
    has_latin = bool(_LATIN.search(text))
    if has_cjk and has_latin:
        return "mixed"
    if has_cjk:
        return "zh"
    if has_latin:
        return "en"
    return "other"


def normalize_sentence(text: str) -> str:
    r"""Normalise a sentence for grouping: Unicode NFKC, stripped, inner whitespace collapsed.

    No case folding: ``"All cars"`` and ``"all cars"`` stay different.

    Example:
        >>> normalize_sentence("  all\u3000 cars ")
        'all cars'
    """
    return " ".join(unicodedata.normalize("NFKC", text).split())


def make_sample_id(*parts: object) -> str:
    """Join parts into a sample id matching ``^[a-z0-9][a-z0-9._-]*$``.

    Characters outside the alphabet become ``_``; upper case is lowered.

    Example:
        >>> make_sample_id("Train_14703_0")
        'train_14703_0'
        >>> make_sample_id(12, 3)
        '12-3'
    """
    raw = "-".join(str(p) for p in parts).lower()
    sid = re.sub(r"[^a-z0-9._-]", "_", raw)
    if not sid or not sid[0].isalnum():
        sid = "x" + sid
    return sid


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key that orders embedded integers numerically (``"2" < "10"``).

    Example:
        >>> sorted(["10", "2", "a1"], key=natural_key)
        ['2', '10', 'a1']
    """
    parts = re.split(r"(\d+)", text)
    return tuple((0, int(p), p) if p.isdigit() else (1, 0, p) for p in parts if p != "")


@dataclass
class Provenance:
    """Where an expression came from in the raw release."""

    file: str
    line: int | None = None
    ref_ids: list[str] = field(default_factory=list)
    ann_ids: list[str] = field(default_factory=list)
    sent_ids: list[str] = field(default_factory=list)

    def to_row(self) -> dict[str, Any]:
        """Return the provenance as a format-v1 struct."""
        return {
            "file": self.file,
            "line": self.line,
            "ref_ids": list(self.ref_ids),
            "ann_ids": list(self.ann_ids),
            "sent_ids": list(self.sent_ids),
        }


@dataclass
class ObjectRecord:
    """One annotated instance (``bbox`` is ``[x, y, w, h]`` in pixels)."""

    object_id: str
    category: str
    category_id: int
    bbox: list[float]
    mask: Rle
    area: int
    flags: list[str] = field(default_factory=list)

    def to_row(self) -> dict[str, Any]:
        """Return the object as a format-v1 struct."""
        return {
            "object_id": self.object_id,
            "category": self.category,
            "category_id": int(self.category_id),
            "bbox": [float(v) for v in self.bbox],
            "mask": {"size": [int(v) for v in self.mask["size"]], "counts": self.mask["counts"]},
            "area": int(self.area),
            "flags": sorted(set(self.flags)),
        }


@dataclass
class ExpressionRecord:
    """One referring expression (one sentence describing one referent, or nothing)."""

    sample_id: str
    text: str
    target_type: TargetType
    ref_key: str
    object_ids: list[str]
    categories: list[str]
    mask: Rle
    area: int
    provenance: Provenance
    language: str = "en"
    flags: list[str] = field(default_factory=list)

    def to_row(self) -> dict[str, Any]:
        """Return the expression as a format-v1 struct."""
        return {
            "sample_id": self.sample_id,
            "text": self.text,
            "language": self.language,
            "target_type": self.target_type,
            "ref_key": self.ref_key,
            "object_ids": list(self.object_ids),
            "categories": list(self.categories),
            "mask": {"size": [int(v) for v in self.mask["size"]], "counts": self.mask["counts"]},
            "area": int(self.area),
            "provenance": self.provenance.to_row(),
            "flags": sorted(set(self.flags)),
        }


@dataclass
class ImageRecord:
    """One image with its objects and expressions.

    ``source`` is the absolute path the image bytes are read from when the shard is written;
    it never reaches the built dataset (``file_name`` is the relative POSIX path).
    """

    image_id: str
    split: str
    file_name: str
    source: Path
    width: int
    height: int
    objects: list[ObjectRecord] = field(default_factory=list)
    expressions: list[ExpressionRecord] = field(default_factory=list)
    size_bytes: int = 0

    def to_row(self, image_bytes: bytes) -> dict[str, Any]:
        """Return the image as a format-v1 row holding ``image_bytes`` unchanged."""
        return {
            "image_id": self.image_id,
            "image": {"bytes": image_bytes, "path": self.file_name},
            "width": int(self.width),
            "height": int(self.height),
            "split": self.split,
            "file_name": self.file_name,
            "objects": [
                o.to_row() for o in sorted(self.objects, key=lambda o: natural_key(o.object_id))
            ],
            "expressions": [
                e.to_row() for e in sorted(self.expressions, key=lambda e: natural_key(e.sample_id))
            ],
        }


SIZE_BIN_EDGES: tuple[float, ...] = (0.001, 0.01, 0.1)
"""Relative GT area (mask area / image area) bin edges: <0.1%, 0.1–1%, 1–10%, ≥10%."""
SIZE_BIN_LABELS: tuple[str, ...] = ("<0.1%", "0.1-1%", "1-10%", ">=10%", "none")


def size_bin(area: int, height: int, width: int, target_type: str = "single") -> str:
    """Label of the relative-area bin of a ground-truth mask (``none`` for no-target).

    Example:
        >>> size_bin(50, 100, 100), size_bin(2000, 100, 100), size_bin(0, 10, 10, "none")
        ('0.1-1%', '>=10%', 'none')
    """
    if target_type == "none":
        return "none"
    rel = area / float(max(1, height * width))
    for edge, label in zip(SIZE_BIN_EDGES, SIZE_BIN_LABELS, strict=False):
        if rel < edge:
            return label
    return SIZE_BIN_LABELS[3]
