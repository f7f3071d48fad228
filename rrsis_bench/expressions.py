"""The expression-level view of a built dataset: one item per referring expression.

A built dataset has one row per image; training and scoring work per expression. An
:class:`ExpressionView` indexes the annotation columns of one or more splits (no image bytes are
read to build it) and hands out :class:`Expression` items whose image and mask are decoded only
when asked for. Expressions of one image share that image's bytes: nothing is copied per
expression. Filters select by target type, category and language.

Example:
    >>> from rrsis_bench.expressions import ExpressionView          # doctest: +SKIP
    >>> view = ExpressionView("rrsis-d", split="test", target_types=["single"])  # doctest: +SKIP
    >>> item = view[0]                                               # doctest: +SKIP
    >>> item.sample_id, item.text, item.mask.shape, item.image.size  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, overload

import numpy as np

from rrsis_bench import masks
from rrsis_bench.errors import (
    DatasetNotFoundError,
    FormatError,
    RRSISBenchError,
    UnknownNameError,
)
from rrsis_bench.images import open_image
from rrsis_bench.schema import TARGET_TYPES, Rle
from rrsis_bench.shard_images import ShardImageReader
from rrsis_bench.store import BuiltDataset, iter_shard_rows, open_dataset

_ANNOTATION_COLUMNS = [
    "image_id",
    "width",
    "height",
    "split",
    "file_name",
    "objects",
    "expressions",
]


class SampleNotFoundError(RRSISBenchError, KeyError):
    """A sample id is not in the view."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "sample not found"


@dataclass(frozen=True)
class ImageEntry:
    """One image of the view: where its bytes are and its annotated objects."""

    image_id: str
    split: str
    file_name: str
    width: int
    height: int
    shard: int
    row: int
    objects: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class ExpressionEntry:
    """The annotation of one expression (no pixels)."""

    sample_id: str
    image: int
    text: str
    language: str
    target_type: str
    ref_key: str
    object_ids: tuple[str, ...]
    categories: tuple[str, ...]
    rle: Rle
    area: int
    flags: tuple[str, ...]
    provenance: dict[str, Any]


class Expression:
    """One referring expression with lazily decoded image and mask.

    Attributes:
        sample_id, text, language, target_type, ref_key, object_ids, categories, area, flags,
        image_id, split, file_name, width, height: As in the format-v1 row.
        rle: The ground-truth mask as compressed RLE (string counts).
    """

    def __init__(self, view: ExpressionView, entry: ExpressionEntry):
        self._view = view
        self._entry = entry
        img = view._images[entry.image]
        self.sample_id = entry.sample_id
        self.text = entry.text
        self.language = entry.language
        self.target_type = entry.target_type
        self.ref_key = entry.ref_key
        self.object_ids = list(entry.object_ids)
        self.categories = list(entry.categories)
        self.rle = entry.rle
        self.area = entry.area
        self.flags = list(entry.flags)
        self.provenance = entry.provenance
        self.image_id = img.image_id
        self.split = img.split
        self.file_name = img.file_name
        self.width = img.width
        self.height = img.height

    def __repr__(self) -> str:
        return (
            f"Expression(sample_id={self.sample_id!r}, image_id={self.image_id!r}, "
            f"target_type={self.target_type!r}, text={self.text!r})"
        )

    @cached_property
    def mask(self) -> np.ndarray:
        """The ground-truth mask, ``(h, w)`` uint8 of 0/1 (decoded on first access)."""
        return masks.decode(self.rle)

    @property
    def image_bytes(self) -> bytes:
        """The image file's bytes, exactly as stored (read on each access)."""
        data = self._view.image_bytes(self._entry.image)
        if data is None:
            raise FormatError(
                f"image {self.image_id!r} of sample {self.sample_id!r} has no stored bytes; "
                "rebuild the dataset",
                self._view.path,
            )
        return data

    @cached_property
    def image(self) -> Any:
        """The image as a ``PIL.Image`` in RGB mode (decoded on first access)."""
        with open_image(self.image_bytes) as im:
            return im.convert("RGB")

    @property
    def objects(self) -> list[dict[str, Any]]:
        """The image's annotated objects (``object_id``, ``category``, ``bbox``, ``mask`` RLE, ...)."""
        return [dict(o) for o in self._view._images[self._entry.image].objects]

    def to_dict(self, decode: bool = True) -> dict[str, Any]:
        """The item as a plain dict; ``decode`` adds ``image`` (PIL) and ``mask`` (numpy)."""
        out: dict[str, Any] = {
            "sample_id": self.sample_id,
            "image_id": self.image_id,
            "split": self.split,
            "file_name": self.file_name,
            "width": self.width,
            "height": self.height,
            "text": self.text,
            "language": self.language,
            "target_type": self.target_type,
            "ref_key": self.ref_key,
            "object_ids": list(self.object_ids),
            "categories": list(self.categories),
            "area": self.area,
            "flags": list(self.flags),
            "rle": dict(self.rle),
        }
        if decode:
            out["image"] = self.image
            out["mask"] = self.mask
        return out


def _choices(kind: str, given: Iterable[str] | None, allowed: Sequence[str]) -> frozenset[str]:
    if given is None:
        return frozenset()
    values = frozenset([given] if isinstance(given, str) else given)
    for v in values:
        if v not in allowed:
            raise UnknownNameError(kind, v, allowed)
    return values


class ExpressionView(Sequence[Expression]):
    """One item per referring expression of a built dataset (image and mask decoded lazily).

    Args:
        name_or_path: A registered dataset name or a build folder.
        split: A split (``train``, ``val``, ``test``; ``validation`` is accepted), a list of
            splits, or ``None`` for every split; splits come in canonical order.
        target_types: Keep only these target types (``single``, ``multi``, ``none``).
        categories: Keep expressions with at least one of these categories.
        languages: Keep only these languages (``en``, ``zh``, ``mixed``, ``other``).

    Raises:
        DatasetNotFoundError: If the build or the split does not exist.
        UnknownNameError: If a target type is not one of ``single``, ``multi``, ``none``.
    """

    def __init__(
        self,
        name_or_path: str | Path | BuiltDataset,
        split: str | Sequence[str] | None = None,
        *,
        target_types: Iterable[str] | None = None,
        categories: Iterable[str] | None = None,
        languages: Iterable[str] | None = None,
    ):
        ds = name_or_path if isinstance(name_or_path, BuiltDataset) else open_dataset(name_or_path)
        self.dataset = ds
        self.path = ds.path
        if split is None:
            self.splits = list(ds.splits)
        else:
            wanted = [split] if isinstance(split, str) else list(split)
            self.splits = [s for s in ds.splits if s in {ds.check_split(w) for w in wanted}]
        shards: list[Path] = []
        self._images: list[ImageEntry] = []
        self._entries: list[ExpressionEntry] = []
        for s in self.splits:
            for shard_path in ds.shard_paths(s):
                self._index_shard(shard_path, len(shards))
                shards.append(shard_path)
        self._reader = ShardImageReader(shards)
        self._order = list(range(len(self._entries)))
        self._apply_filters(target_types, categories, languages)

    def _index_shard(self, shard_path: Path, shard: int) -> None:
        if not shard_path.is_file():
            raise DatasetNotFoundError(
                f"{shard_path}: shard listed in the manifest is missing; rebuild the dataset"
            )
        row = 0
        for r in iter_shard_rows(shard_path, _ANNOTATION_COLUMNS, batch_size=256):
            image_index = len(self._images)
            self._images.append(
                ImageEntry(
                    image_id=r["image_id"],
                    split=r["split"],
                    file_name=r["file_name"],
                    width=int(r["width"]),
                    height=int(r["height"]),
                    shard=shard,
                    row=row,
                    objects=tuple(r["objects"]),
                )
            )
            row += 1
            for e in r["expressions"]:
                self._entries.append(
                    ExpressionEntry(
                        sample_id=e["sample_id"],
                        image=image_index,
                        text=e["text"],
                        language=e["language"],
                        target_type=TARGET_TYPES[e["target_type"]],
                        ref_key=e["ref_key"],
                        object_ids=tuple(e["object_ids"]),
                        categories=tuple(e["categories"]),
                        rle={"size": list(e["mask"]["size"]), "counts": e["mask"]["counts"]},
                        area=int(e["area"]),
                        flags=tuple(e["flags"]),
                        provenance=e["provenance"],
                    )
                )

    def _apply_filters(
        self,
        target_types: Iterable[str] | None,
        categories: Iterable[str] | None,
        languages: Iterable[str] | None,
    ) -> None:
        tts = _choices("target type", target_types, TARGET_TYPES)
        langs = _choices("language", languages, ("en", "zh", "mixed", "other"))
        cats = frozenset([categories] if isinstance(categories, str) else categories or ())
        if not (tts or langs or cats):
            return
        self._order = [
            i
            for i in self._order
            if (not tts or self._entries[i].target_type in tts)
            and (not langs or self._entries[i].language in langs)
            and (not cats or cats.intersection(self._entries[i].categories))
        ]

    def filter(
        self,
        *,
        target_types: Iterable[str] | None = None,
        categories: Iterable[str] | None = None,
        languages: Iterable[str] | None = None,
    ) -> ExpressionView:
        """A narrower view sharing this one's index (nothing is re-read)."""
        new = self._copy(self._order)
        new._apply_filters(target_types, categories, languages)
        return new

    def select(self, indices: Iterable[int]) -> ExpressionView:
        """A view of the given positions of this view, in the given order."""
        order = [self._order[i] for i in indices]
        return self._copy(order)

    def shard(self, num_shards: int, index: int, contiguous: bool = True) -> ExpressionView:
        """Deterministic part ``index`` of ``num_shards`` (like ``datasets.Dataset.shard``).

        Contiguous parts keep expressions of one image together (fewer image reads); strided
        parts take every ``num_shards``-th item. Part sizes differ by at most one.
        """
        if num_shards < 1 or not 0 <= index < num_shards:
            raise ValueError(
                f"Expected 0 <= index < num_shards, but got index={index}, num_shards={num_shards}"
            )
        n = len(self._order)
        if contiguous:
            div, mod = divmod(n, num_shards)
            start = index * div + min(index, mod)
            stop = start + div + (1 if index < mod else 0)
            return self.select(range(start, stop))
        return self.select(range(index, n, num_shards))

    def _copy(self, order: list[int]) -> ExpressionView:
        new = object.__new__(ExpressionView)
        new.__dict__.update(self.__dict__)
        new._order = list(order)
        return new

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, index: int) -> Expression: ...

    @overload
    def __getitem__(self, index: slice) -> list[Expression]: ...

    def __getitem__(self, index: int | slice) -> Expression | list[Expression]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if not -len(self) <= index < len(self):
            raise IndexError(f"expression index {index} out of range for {len(self)} expressions")
        return Expression(self, self._entries[self._order[index]])

    def __iter__(self) -> Iterator[Expression]:
        for i in range(len(self)):
            yield self[i]

    @property
    def sample_ids(self) -> list[str]:
        """Sample ids in view order."""
        return [self._entries[i].sample_id for i in self._order]

    def index_of(self, sample_id: str) -> int:
        """Position of a sample id in this view.

        Raises:
            SampleNotFoundError: If the view has no such sample (a ``KeyError``); the message
                names the view's splits.
        """
        for pos, i in enumerate(self._order):
            if self._entries[i].sample_id == sample_id:
                return pos
        raise SampleNotFoundError(
            f"no sample {sample_id!r} in {self.path} (splits {', '.join(self.splits)}, "
            "after filters)"
        )

    def by_sample_id(self, sample_id: str) -> Expression:
        """The expression with this sample id."""
        return self[self.index_of(sample_id)]

    def image_bytes(self, image: int) -> bytes | None:
        """Stored bytes of the view's ``image``-th image."""
        entry = self._images[image]
        return self._reader.read(entry.shard, entry.row)

    def image_index(self, index: int) -> int:
        """Which of the view's images the ``index``-th expression belongs to."""
        return self._entries[self._order[index]].image

    @property
    def num_images(self) -> int:
        """Number of distinct images the view's expressions use."""
        return len({self._entries[i].image for i in self._order})

    def counts(self) -> dict[str, int]:
        """Expressions per target type in this view."""
        out: dict[str, int] = dict.fromkeys(TARGET_TYPES, 0)
        for i in self._order:
            out[self._entries[i].target_type] += 1
        return out
