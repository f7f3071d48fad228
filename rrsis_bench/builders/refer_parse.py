"""Reading REFER ``refs(*).p`` and ``instances.json`` into checked plain records.

Every fact the REFER builders rely on about these two files is checked here on the whole file
before anything is built; a violation raises :class:`~rrsis_bench.errors.AssumptionError`
naming the assumption, the file, what was found and the first offending records:

* the refs file holds a list of dicts with ``ref_id``, ``image_id``, ``ann_id``, ``split`` and
  ``sentences``; ``ann_id`` is an id or a list of ids; ``split`` is train, val or test
  (``validation`` accepted); ``sentences`` is a list of dicts with ``raw``, ``sent`` or
  ``tokens``; ``ref_id`` values are unique;
* ``instances.json`` is an object with ``images`` (dicts with ``id`` and ``file_name``) and
  ``annotations`` (dicts with ``id`` and ``image_id``), ids unique; ``categories`` (dicts with
  ``id`` and ``name``) is optional; an annotation's category is ``category_id`` or RRSIS-D's
  ``categories_id``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rrsis_bench.errors import AssumptionError, FormatError, UnknownNameError
from rrsis_bench.schema import normalize_split

REF_KEYS = ("ref_id", "image_id", "ann_id", "split", "sentences")


@dataclass(frozen=True)
class RawSentence:
    """One sentence of a ref: its id (if any), position and text as the source has it."""

    index: int
    sent_id: str | None
    text: str


@dataclass
class RawRef:
    """One ref, ids as strings."""

    index: int
    ref_id: str
    image_id: str
    ann_ids: list[str]
    split: str
    category_id: int | None
    sentences: list[RawSentence]
    file_name: str | None = None
    raw_split: str = ""


@dataclass
class RawImage:
    """One ``images`` entry of ``instances.json``."""

    image_id: str
    file_name: str
    width: int | None
    height: int | None


@dataclass
class RawAnnotation:
    """One ``annotations`` entry of ``instances.json``."""

    ann_id: str
    image_id: str
    category_id: int | None
    category_key: str | None
    segmentation: Any
    bbox: list[float] | None
    area: float | None


@dataclass
class Instances:
    """The parsed ``instances.json``."""

    images: dict[str, RawImage]
    annotations: dict[str, RawAnnotation]
    categories: dict[int, str]
    category_keys: Counter[str] = field(default_factory=Counter)


def as_id(value: Any) -> str | None:
    """An id as a string (``12``, ``12.0`` and ``"12"`` give ``"12"``); ``None`` if not an id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _as_int(value: Any) -> int | None:
    i = as_id(value)
    try:
        return int(i) if i is not None else None
    except ValueError:
        return None


def _short(record: Any, keys: Sequence[str] = ()) -> str:
    if isinstance(record, dict):
        shown = {k: record.get(k) for k in keys if k in record} if keys else record
        text = repr(shown)
        if not keys:
            text = "dict with keys " + ", ".join(sorted(map(str, record)))
    else:
        text = f"{type(record).__name__} {record!r}"
    return text if len(text) <= 160 else text[:157] + "..."


def _check(
    items: Sequence[Any],
    bad: Callable[[Any], bool],
    assumption: str,
    path: Path,
    what: str,
    keys: Sequence[str] = (),
) -> None:
    offending = [(i, r) for i, r in enumerate(items) if bad(r)]
    if offending:
        examples = [f"#{i}: {_short(r, keys)}" for i, r in offending[:3]]
        raise AssumptionError(assumption, path, f"{len(offending):,} {what}", examples)


def _sentence_text(s: dict[str, Any]) -> str | None:
    for key in ("raw", "sent"):
        v = s.get(key)
        if isinstance(v, str) and v.strip():
            return v
    tokens = s.get("tokens")
    if isinstance(tokens, list) and tokens and all(isinstance(t, str) for t in tokens):
        return " ".join(tokens)
    for key in ("raw", "sent"):
        if isinstance(s.get(key), str):
            return str(s[key])
    return None


def _ann_ids(value: Any) -> list[str] | None:
    if isinstance(value, list | tuple):
        ids = [as_id(v) for v in value]
        return None if any(i is None for i in ids) else [i for i in ids if i is not None]
    i = as_id(value)
    return None if i is None else [i]


def _split(value: Any, split_map: Mapping[str, str] | None = None) -> str | None:
    if split_map and str(value) in split_map:
        return split_map[str(value)]
    if not isinstance(value, str):
        return None
    try:
        return normalize_split(value)
    except UnknownNameError:
        return None


def parse_refs(
    obj: Any,
    path: Path,
    no_target_id: str | None = None,
    split_map: Mapping[str, str] | None = None,
) -> list[RawRef]:
    """Check the loaded refs file and return its refs (see the module docstring).

    ``split_map`` renames the release's split values first (``{"testA": "test"}``); given (even
    empty), the error for an unknown split value says how to map it.

    ``no_target_id`` is gRefCOCO's ``-1``: a ref whose ``ann_id`` is ``[-1]`` refers to nothing
    and gets no annotation ids; ``-1`` beside other ids, or a ``no_target`` key that disagrees
    with it, breaks an assumption.

    Raises:
        AssumptionError: A fact about the refs file does not hold.
    """
    if not isinstance(obj, list | tuple):
        raise AssumptionError(
            "the refs file holds a list of ref dicts", path, f"a {type(obj).__name__}", []
        )
    refs = list(obj)
    _check(refs, lambda r: not isinstance(r, dict), "every ref is a dict", path, "non-dict refs")
    for key in REF_KEYS:
        _check(
            refs,
            lambda r, k=key: k not in r,  # type: ignore[misc]
            f"every ref has the key {key!r}",
            path,
            f"refs without {key!r}",
        )
    _check(
        refs,
        lambda r: as_id(r["ref_id"]) is None or as_id(r["image_id"]) is None,
        "ref_id and image_id are integers or strings",
        path,
        "refs with other ids",
        ("ref_id", "image_id"),
    )
    _check(
        refs,
        lambda r: not _ann_ids(r["ann_id"]),
        "ann_id is an id or a non-empty list of ids",
        path,
        "refs with another ann_id",
        ("ref_id", "ann_id"),
    )
    if no_target_id is not None:

        def listed(r: dict[str, Any]) -> list[str]:
            return _ann_ids(r["ann_id"]) or []

        _check(
            refs,
            lambda r: no_target_id in listed(r) and len(listed(r)) != 1,
            f"ann_id [{no_target_id}] (no target) stands alone",
            path,
            f"refs listing {no_target_id} beside other annotations",
            ("ref_id", "ann_id"),
        )

        def disagrees(r: dict[str, Any]) -> bool:
            if "no_target" not in r:
                return False
            flag = r["no_target"]
            return not isinstance(flag, bool) or flag != (listed(r) == [no_target_id])

        _check(
            refs,
            disagrees,
            f"no_target is true or false, and true exactly when ann_id is [{no_target_id}]",
            path,
            "refs whose no_target disagrees with their ann_id",
            ("ref_id", "ann_id", "no_target"),
        )
    _check(
        refs,
        lambda r: _split(r["split"], split_map) is None,
        "every ref's split is train, val or test",
        path,
        "refs with another split (values: "
        + ", ".join(
            repr(v)
            for v in sorted(
                {str(r["split"]) for r in refs if _split(r["split"], split_map) is None}
            )[:5]
        )
        + (
            "; map them with -o split_map=<value>:<train|val|test>,...)"
            if split_map is not None
            else ")"
        ),
        ("ref_id", "split"),
    )
    _check(
        refs,
        lambda r: (
            not isinstance(r["sentences"], list)
            or any(not isinstance(s, dict) or _sentence_text(s) is None for s in r["sentences"])
        ),
        "sentences is a list of dicts holding 'raw', 'sent' or 'tokens'",
        path,
        "refs with other sentences",
        ("ref_id", "sentences"),
    )
    ids = Counter(as_id(r["ref_id"]) for r in refs)
    dupes = sorted(str(i) for i, n in ids.items() if n > 1)
    if dupes:
        raise AssumptionError(
            "ref_id values are unique", path, f"{len(dupes):,} repeated ref_id values", dupes[:3]
        )
    out: list[RawRef] = []
    for i, r in enumerate(refs):
        sentences = [
            RawSentence(k, as_id(s.get("sent_id")), _sentence_text(s) or "")
            for k, s in enumerate(r["sentences"])
        ]
        out.append(
            RawRef(
                index=i,
                ref_id=str(as_id(r["ref_id"])),
                image_id=str(as_id(r["image_id"])),
                ann_ids=[a for a in _ann_ids(r["ann_id"]) or [] if a != no_target_id],
                split=str(_split(r["split"], split_map)),
                category_id=_as_int(r.get("category_id")),
                sentences=sentences,
                file_name=r.get("file_name") if isinstance(r.get("file_name"), str) else None,
                raw_split=str(r["split"]),
            )
        )
    return out


def load_json(path: Path) -> Any:
    """Read a JSON file; syntax errors become a :class:`FormatError` with the line."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"not UTF-8 text at byte {exc.start}; download the file again", path
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            # some messages end in "at" ("Unterminated string starting at"): say it once
            f"not valid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno}); "
            "the file may be truncated: "
            "download it again",
            path,
            exc.lineno,
        ) from exc


_NUMBER_TYPES = (int, float)


def _bbox(value: Any) -> list[float] | None:
    if type(value) in (list, tuple) and len(value) == 4:
        a, b, c, d = value
        if (
            type(a) in _NUMBER_TYPES
            and type(b) in _NUMBER_TYPES
            and type(c) in _NUMBER_TYPES
            and type(d) in _NUMBER_TYPES
        ):
            return [float(a), float(b), float(c), float(d)]
    return None


def _json_kind(value: Any) -> str:
    """What a JSON value is, for a message (``an int (5)``, ``a dict with keys a, b``)."""
    if isinstance(value, dict):
        return "a dict with keys " + (", ".join(sorted(map(str, value))[:8]) or "none")
    if value is None:
        return "null"
    name = type(value).__name__
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name} ({text})"


def parse_instances(obj: Any, path: Path) -> Instances:
    """Check the loaded ``instances.json`` and index it (see the module docstring).

    Raises:
        AssumptionError: A fact about the instances file does not hold.
    """
    if not isinstance(obj, dict):
        raise AssumptionError(
            "instances.json is an object with 'images' and 'annotations'",
            path,
            f"a JSON {type(obj).__name__}",
        )
    for key in ("images", "annotations"):
        value = obj.get(key)
        if not isinstance(value, list):
            found = (
                f"no key {key!r} (keys {', '.join(sorted(map(str, obj))) or 'none'})"
                if key not in obj
                else f"{key!r} is not a list but {_json_kind(value)}"
            )
            raise AssumptionError(f"instances.json has a list {key!r}", path, found)
    images, anns = obj["images"], obj["annotations"]
    _check(
        images,
        lambda im: (
            not isinstance(im, dict)
            or as_id(im.get("id")) is None
            or not isinstance(im.get("file_name"), str)
        ),
        "every image has an 'id' and a 'file_name'",
        path,
        "images without them",
    )
    _check(
        anns,
        lambda a: (
            not isinstance(a, dict)
            or as_id(a.get("id")) is None
            or as_id(a.get("image_id")) is None
        ),
        "every annotation has an 'id' and an 'image_id'",
        path,
        "annotations without them",
    )
    cats_raw = obj.get("categories") or []
    if not isinstance(cats_raw, list):
        cats_raw = []
    categories: dict[int, str] = {}
    for c in cats_raw:
        if isinstance(c, dict) and _as_int(c.get("id")) is not None:
            categories[int(c["id"])] = str(c.get("name", c["id"]))
    out_images: dict[str, RawImage] = {}
    for im in images:
        iid = str(as_id(im["id"]))
        if iid in out_images:
            raise AssumptionError("image ids are unique", path, f"image id {iid} twice")
        out_images[iid] = RawImage(
            iid, im["file_name"], _as_int(im.get("width")), _as_int(im.get("height"))
        )
    out_anns: dict[str, RawAnnotation] = {}
    keys: Counter[str] = Counter()
    for a in anns:
        aid = str(as_id(a["id"]))
        if aid in out_anns:
            raise AssumptionError("annotation ids are unique", path, f"annotation id {aid} twice")
        cat_key = next((k for k in ("category_id", "categories_id") if k in a), None)
        keys[cat_key or "none"] += 1
        area = a.get("area")
        out_anns[aid] = RawAnnotation(
            ann_id=aid,
            image_id=str(as_id(a["image_id"])),
            category_id=_as_int(a.get(cat_key)) if cat_key else None,
            category_key=cat_key,
            segmentation=a.get("segmentation"),
            bbox=_bbox(a.get("bbox")),
            area=float(area)
            if isinstance(area, int | float) and not isinstance(area, bool)
            else None,
        )
    return Instances(out_images, out_anns, categories, keys)
