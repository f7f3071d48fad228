"""Refs and their sentences turned into format-v1 expressions.

Without grouping (RRSIS-D, REFER), every sentence of a ref is one expression with sample id
``<ref_id>`` (``<ref_id>-<k>`` for sentence ``k``, counted from 0, when the ref has several)
and ``ref_key`` ``<ref_id>``. With grouping (NWPU-Refer), the sentences of refs that share
(image, normalised sentence, split) form one expression whose objects are the union of their
annotations: sample id ``<smallest ref_id>-<sent_id>`` of the first sentence, which is the text
stored; ``ref_key`` joins the group's ref ids with ``+`` so the English and Chinese sentences
of one set of refs share it; every raw ref, annotation and sentence id is kept in the
provenance.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rrsis_bench import masks
from rrsis_bench.builders.refer_objects import BuiltObjects
from rrsis_bench.builders.refer_parse import RawRef, RawSentence
from rrsis_bench.errors import AssumptionError
from rrsis_bench.schema import (
    ExpressionRecord,
    ImageRecord,
    Provenance,
    TargetType,
    detect_language,
    make_sample_id,
    natural_key,
    normalize_sentence,
)
from rrsis_bench.validate import Report

_IRREGULAR_SPACE = re.compile(r"\s{2,}|[^\S ]")


def clean_text(raw: str) -> str:
    """The stored text: the raw sentence without outer whitespace.

    Inner spacing is kept as the source has it, as the phrase-file builders do; grouping
    compares normalised sentences.
    """
    return raw.strip()


@dataclass
class Unit:
    """The sentences that become one expression."""

    image_id: str
    split: str
    members: list[tuple[RawRef, RawSentence]]
    sample_id: str
    ref_key: str

    @property
    def first(self) -> tuple[RawRef, RawSentence]:
        """The member whose sentence is stored."""
        return self.members[0]

    def ann_ids(self) -> list[str]:
        """Annotation ids of every ref of the unit, in order, once each."""
        return list(dict.fromkeys(a for ref, _ in self.members for a in ref.ann_ids))

    def ref_ids(self) -> list[str]:
        """Ref ids of the unit, in order, once each."""
        return list(dict.fromkeys(ref.ref_id for ref, _ in self.members))


def _order(member: tuple[RawRef, RawSentence]) -> tuple[object, ...]:
    return (natural_key(member[0].ref_id), member[1].index)


def make_units(refs: Iterable[RawRef], group: bool, path: str, report: Report) -> list[Unit]:
    """Group refs' sentences into expression units (see the module docstring).

    Sentences that are empty after cleaning are reported (``text-empty``) and left out.

    Raises:
        AssumptionError: Two units would get the same sample id (repeated ``sent_id`` in a ref).
    """
    pairs: list[tuple[RawRef, RawSentence]] = []
    for ref in refs:
        for s in ref.sentences:
            if not clean_text(s.text):
                sid = make_sample_id(ref.ref_id, s.index)
                report.add(
                    "text-empty",
                    f"ref {ref.ref_id} sentence {s.index} is empty (skipped)",
                    split=ref.split,
                    image_id=ref.image_id,
                    sample_id=sid,
                )
                continue
            pairs.append((ref, s))
    units: list[Unit] = []
    if group:
        groups: dict[tuple[str, str, str], list[tuple[RawRef, RawSentence]]] = defaultdict(list)
        for ref, s in pairs:
            groups[(ref.image_id, normalize_sentence(s.text), ref.split)].append((ref, s))
        for (image_id, _, split), members in groups.items():
            members.sort(key=_order)
            ref0, s0 = members[0]
            sid = make_sample_id(ref0.ref_id, s0.sent_id if s0.sent_id is not None else s0.index)
            ref_key = "+".join(dict.fromkeys(r.ref_id for r, _ in members))
            units.append(Unit(image_id, split, members, sid, ref_key))
    else:
        for ref, s in pairs:
            several = len(ref.sentences) > 1
            sid = make_sample_id(ref.ref_id, s.index) if several else make_sample_id(ref.ref_id)
            units.append(Unit(ref.image_id, ref.split, [(ref, s)], sid, ref.ref_id))
    seen: dict[str, Unit] = {}
    for u in units:
        if u.sample_id in seen:
            other = seen[u.sample_id]
            raise AssumptionError(
                "sentence ids are unique within a ref, so sample ids are unique",
                path,
                f"sample id {u.sample_id} for two expressions",
                [
                    f"refs {'+'.join(other.ref_ids())} {other.first[1].text!r}",
                    f"refs {'+'.join(u.ref_ids())} {u.first[1].text!r}",
                ],
            )
        seen[u.sample_id] = u
    units.sort(key=lambda u: natural_key(u.sample_id))
    return units


def build_expression(
    unit: Unit,
    built: BuiltObjects,
    image_hw: tuple[int, int],
    refs_file: str,
    report: Report,
) -> ExpressionRecord | None:
    """Assemble one expression; ``None`` if one of its annotations could not be decoded."""
    ann_ids = unit.ann_ids()
    if any(a not in built.objects and a not in built.no_target for a in ann_ids):
        return None
    real = [a for a in ann_ids if a in built.objects]
    pseudo = [a for a in ann_ids if a in built.no_target]
    _, s0 = unit.first
    text = clean_text(s0.text)
    where: dict[str, Any] = {
        "split": unit.split,
        "image_id": unit.image_id,
        "sample_id": unit.sample_id,
    }
    flags: list[str] = []
    h, w = image_hw
    if real and pseudo:
        report.add(
            "expression-ambiguous",
            f"{text!r} names annotations {', '.join(real)} and the `no target` annotation(s) "
            f"{', '.join(pseudo)}; read as targeted",
            **where,
        )
    target_type: TargetType
    if real:
        target_type = "multi" if len(real) > 1 else "single"
        try:
            mask = masks.union([built.objects[a].mask for a in real])
        except ValueError as exc:
            report.add(
                "mask-size-mismatch",
                f"the objects {', '.join(real)} of {text!r} have masks of different sizes "
                f"({exc}); expression skipped",
                severity="error",
                **where,
            )
            return None
    else:
        target_type = "none"
        mask = masks.empty(h, w)
        if any(built.no_target[a].area > 0 for a in pseudo):
            flags.append("no_target_nonempty")
    area = masks.area(mask)
    if target_type != "none" and area == 0:
        flags.append("empty_mask")
        report.add("mask-empty", f"the mask of {text!r} is empty (kept)", **where)
    if area and area == int(mask["size"][0]) * int(mask["size"][1]):
        flags.append("full_mask")
        report.add("mask-full", f"the mask of {text!r} covers the whole image", **where)
    if tuple(mask["size"]) != (h, w):
        flags.append("size_mismatch")
    language = detect_language(text)
    if language == "mixed":
        flags.append("mixed_language")
        report.add("text-mixed-language", f"{text!r} mixes Chinese and Latin script", **where)
    if text != s0.text:
        flags.append("text_normalized")
        report.add("text-noise", f"{s0.text!r} had outer whitespace; stored as {text!r}", **where)
    elif _IRREGULAR_SPACE.search(text):
        report.add("text-noise", f"{text!r} has irregular inner spacing (kept as written)", **where)
    if len(unit.ref_ids()) > 1:
        flags.append("grouped")
    categories = list(dict.fromkeys(built.objects[a].category for a in real))
    provenance = Provenance(
        file=refs_file,
        line=None,
        ref_ids=unit.ref_ids(),
        ann_ids=ann_ids,
        sent_ids=[s.sent_id for _, s in unit.members if s.sent_id is not None],
    )
    return ExpressionRecord(
        sample_id=unit.sample_id,
        text=text,
        target_type=target_type,
        ref_key=unit.ref_key,
        object_ids=real,
        categories=categories,
        mask=mask,
        area=area,
        provenance=provenance,
        language=language,
        flags=flags,
    )


def flag_duplicates(records: Sequence[ImageRecord], report: Report) -> None:
    """Flag the same normalised sentence used more than once on one image (same or other masks)."""
    for rec in records:
        by_text: dict[str, list[ExpressionRecord]] = defaultdict(list)
        for e in rec.expressions:
            by_text[normalize_sentence(e.text)].append(e)
        for text, items in by_text.items():
            if len(items) < 2:
                continue
            keys = [(tuple(e.mask["size"]), e.mask["counts"]) for e in items]
            same = len(set(keys)) == 1
            flag = "duplicate_expression" if same else "ambiguous_expression"
            rule = "expression-duplicate" if same else "expression-ambiguous"
            for e, key in zip(items, keys, strict=True):
                e.flags.append(flag)
                report.add(
                    rule,
                    _duplicate_message(text, rec.image_id, e.sample_id, items, keys, key),
                    split=rec.split,
                    image_id=rec.image_id,
                    sample_id=e.sample_id,
                )


def _duplicate_message(
    text: str,
    image_id: str,
    sample_id: str,
    items: Sequence[ExpressionRecord],
    keys: Sequence[object],
    key: object,
) -> str:
    """The finding of one sample of a repeated sentence, naming the other samples."""
    same = [o.sample_id for o, k in zip(items, keys, strict=True) if k == key]
    other = [o.sample_id for o, k in zip(items, keys, strict=True) if k != key]
    same.remove(sample_id)
    lead = f"{text!r} occurs {len(items)} times on image {image_id}: {sample_id} has"
    if not other:
        return f"{lead} the same mask as {', '.join(same)}"
    msg = f"{lead} a different mask from {', '.join(other)}"
    return msg + (f" and the same as {', '.join(same)}" if same else "")
