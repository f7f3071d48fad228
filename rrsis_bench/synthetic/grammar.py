"""Referring expressions from a small grammar whose masks are correct by construction.

Every expression is a *selection rule* over the objects of a scene (category, colour, size,
orientation, position in the image, position relative to another object, nearest, largest,
all of) together with its wording. The rule is evaluated on the scene's objects, so the set of
objects an expression refers to is known exactly: its mask is the union of their masks, and a
no-target expression names something the rule finds nowhere in the image (an absent category,
an absent colour, an empty relation).

A single-target wording is used only when its rule selects exactly one object, a multi-target
wording only when it selects two or more; relations and extremes also require a clear margin
(an extreme object lies well apart from the next one) so that a human reading the image would
pick the same objects.

Example:
    >>> import numpy as np
    >>> from rrsis_bench.synthetic.categories import NWPU_CATEGORIES
    >>> from rrsis_bench.synthetic.scene import compose
    >>> scene = compose(NWPU_CATEGORIES, np.random.default_rng(3), 256, 256)
    >>> phrases = describe(scene, np.random.default_rng(3))
    >>> {p.target_type for p in phrases} <= {"single", "multi", "none"}
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rrsis_bench.synthetic.categories import COLOURS_ZH, Category
from rrsis_bench.synthetic.scene import Scene, SceneObject

SIZE_WORDS = {"small": ("small", "较小的"), "large": ("large", "较大的")}
ORIENT_WORDS = {
    "horizontal": ("horizontal", "水平的"),
    "vertical": ("vertical", "竖直的"),
    "diagonal": ("diagonal", "斜向的"),
}
EXTREMES = {
    # side: (english core template, chinese prefix, axis, sign)
    "left": ("leftmost {sg}", "最左边的", 0, -1),
    "right": ("rightmost {sg}", "最右边的", 0, 1),
    "top": ("{sg} at the very top", "最上方的", 1, -1),
    "bottom": ("{sg} at the very bottom", "最下方的", 1, 1),
}
RELATIONS = {
    "left": ("to the left of", "左边的"),
    "right": ("to the right of", "右边的"),
    "above": ("above", "上方的"),
    "below": ("below", "下方的"),
}
HALVES = {
    "left": ("in the left half of the image", "图像左半部分的"),
    "right": ("in the right half of the image", "图像右半部分的"),
    "top": ("in the top half of the image", "图像上半部分的"),
    "bottom": ("in the bottom half of the image", "图像下半部分的"),
}
REGIONS_EN = (
    ("top left corner", "top middle", "top right corner"),
    ("middle left", "centre", "middle right"),
    ("bottom left corner", "bottom middle", "bottom right corner"),
)
REGIONS_ZH = (
    ("左上角", "上方中间", "右上角"),
    ("左侧中间", "中央", "右侧中间"),
    ("左下角", "下方中间", "右下角"),
)
EXTREME_GAP = 0.06
"""An extreme object lies at least this fraction of the image side beyond the next one."""
LARGEST_RATIO = 1.5
"""The largest (smallest) object is at least this many times larger (smaller) than the next."""
NEAREST_RATIO = 1.5
"""The nearest object is at least this many times nearer than the next one."""
HALF_MARGIN = 0.05
"""No object of the group lies within this fraction of the image side of the midline."""


@dataclass(frozen=True)
class Phrase:
    """One referring expression and the objects its rule selects.

    Attributes:
        core: English noun phrase without determiner (``white car to the left of the bridge``).
        det: English determiner (``the``, ``all``) or ``""``.
        zh: Chinese wording.
        objects: Indices into ``Scene.objects`` (empty for no-target).
        rule: Which rule produced it (``category``, ``colour``, ``extreme``, ``relation``, ...).
        mentions: Category names the expression names (also for no-target expressions).
        head: The head word (category word or hypernym).
        core_singular: ``core`` with the head word in the singular (class-level wording such
            as RefSegRS's ``white car`` for every white car); empty when ``core`` already is.
    """

    core: str
    det: str
    zh: str
    objects: tuple[int, ...]
    rule: str
    mentions: tuple[str, ...]
    head: str
    core_singular: str = ""

    @property
    def en(self) -> str:
        """English wording with its determiner."""
        return f"{self.det} {self.core}" if self.det else self.core

    @property
    def target_type(self) -> str:
        """``single``, ``multi`` or ``none`` from the number of selected objects."""
        n = len(self.objects)
        return "none" if n == 0 else ("single" if n == 1 else "multi")


@dataclass(frozen=True)
class _Head:
    word: str
    plural: str
    zh: str
    members: tuple[str, ...]  # category names this head covers
    category: Category


def heads(categories: Sequence[Category], hypernyms: bool = False) -> list[_Head]:
    """Head words of a layout: each category's word and, optionally, hypernyms (``vehicle``)."""
    out = [_Head(c.en, c.en_plural, c.zh, (c.name,), c) for c in categories]
    if hypernyms:
        seen: dict[str, list[Category]] = {}
        for c in categories:
            for h in c.hypernyms:
                seen.setdefault(h, []).append(c)
        for word, cats in seen.items():
            out.append(_Head(word, word + "s", "", tuple(c.name for c in cats), cats[0]))
    return out


def _group(scene: Scene, head: _Head) -> list[SceneObject]:
    return [o for o in scene.objects if o.category.name in head.members]


def _sel(objs: Sequence[SceneObject]) -> tuple[int, ...]:
    return tuple(sorted(o.index for o in objs))


def _box(o: SceneObject) -> tuple[float, float, float, float]:
    x, y, w, h = o.bbox
    return x, y, x + w, y + h


def _region(o: SceneObject, scene: Scene) -> tuple[int, int] | None:
    """The 3×3 cell of an object's centre, or None when it sits near a cell border."""
    cx, cy = o.centroid
    fx, fy = cx / scene.width, cy / scene.height
    margin = 0.03
    for f in (fx, fy):
        for edge in (1 / 3, 2 / 3):
            if abs(f - edge) < margin:
                return None
    return min(2, int(fy * 3)), min(2, int(fx * 3))


def region_words(o: SceneObject, scene: Scene) -> tuple[str, str]:
    """English and Chinese name of the 3×3 cell an object's centre lies in."""
    cx, cy = o.centroid
    r, c = min(2, int(cy / scene.height * 3)), min(2, int(cx / scene.width * 3))
    return REGIONS_EN[r][c], REGIONS_ZH[r][c]


def _relation_set(
    group: Sequence[SceneObject], anchor: SceneObject, rel: str
) -> list[SceneObject] | None:
    """Members clearly on one side of ``anchor``; None when a member is on the fence."""
    ax0, ay0, ax1, ay1 = _box(anchor)
    out = []
    for o in group:
        x0, y0, x1, y1 = _box(o)
        cx, cy = o.centroid
        inside = {"left": x1 < ax0, "right": x0 > ax1, "above": y1 < ay0, "below": y0 > ay1}[rel]
        clear_out = {"left": cx > ax0, "right": cx < ax1, "above": cy > ay0, "below": cy < ay1}[rel]
        if inside:
            out.append(o)
        elif not clear_out:
            return None
    return out


def singles(scene: Scene, head: _Head, anchors: Sequence[SceneObject]) -> list[Phrase]:
    """Every single-target phrase the rules allow for the objects under ``head``."""
    group = _group(scene, head)
    out: list[Phrase] = []
    if not group:
        return out
    side = float(min(scene.width, scene.height))
    sg, zh = head.word, head.zh
    mentions = head.members

    def add(
        core: str, zh_text: str, objs: Sequence[SceneObject], rule: str, extra: tuple[str, ...] = ()
    ) -> None:
        out.append(Phrase(core, "the", zh_text, _sel(objs), rule, mentions + extra, head.word))

    if len(group) == 1:
        add(sg, zh, group, "category")
    spatial = not head.category.look.background
    for o in group:
        same_colour = [x for x in group if x.colour == o.colour]
        if len(same_colour) == 1 and len(group) > 1:
            add(f"{o.colour} {sg}", f"{COLOURS_ZH[o.colour]}{zh}", [o], "colour")
        if o.size is not None and len(group) > 1 and sum(x.size == o.size for x in group) == 1:
            en_w, zh_w = SIZE_WORDS[o.size]
            add(f"{en_w} {sg}", f"{zh_w}{zh}", [o], "size")
        if o.orientation is not None and len(group) > 1:
            if sum(x.orientation == o.orientation for x in group) == 1:
                en_w, zh_w = ORIENT_WORDS[o.orientation]
                add(f"{en_w} {sg}", f"{zh_w}{zh}", [o], "orientation")
        cell = _region(o, scene) if spatial else None
        if (
            cell is not None
            and len(group) > 1
            and sum(_region(x, scene) == cell for x in group) == 1
        ):
            r, c = cell
            add(
                f"{sg} in the {REGIONS_EN[r][c]} of the image",
                f"图像{REGIONS_ZH[r][c]}的{zh}",
                [o],
                "region",
            )
    if not spatial:
        return out
    if len(group) > 1:
        for tmpl, zh_pre, axis, sign in EXTREMES.values():
            ranked = sorted(group, key=lambda x: sign * x.centroid[axis], reverse=True)
            gap = abs(ranked[0].centroid[axis] - ranked[1].centroid[axis])
            if gap >= EXTREME_GAP * side:
                add(tmpl.format(sg=sg), f"{zh_pre}{zh}", [ranked[0]], "extreme")
        by_area = sorted(group, key=lambda x: x.area, reverse=True)
        if by_area[0].area >= LARGEST_RATIO * by_area[1].area:
            add(f"largest {sg}", f"最大的{zh}", [by_area[0]], "largest")
        if by_area[-2].area >= LARGEST_RATIO * by_area[-1].area:
            add(f"smallest {sg}", f"最小的{zh}", [by_area[-1]], "smallest")
    for a in anchors:
        if a.category.name in head.members:
            continue
        a_en, a_zh = a.category.en, a.category.zh
        for rel, (en_rel, zh_rel) in RELATIONS.items():
            chosen = _relation_set(group, a, rel)
            if chosen is not None and len(chosen) == 1:
                add(
                    f"{sg} {en_rel} the {a_en}",
                    f"{a_zh}{zh_rel}{zh}",
                    chosen,
                    "relation",
                    (a.category.name,),
                )
        if len(group) > 1:
            dist = sorted(
                group,
                key=lambda x: np.hypot(
                    x.centroid[0] - a.centroid[0], x.centroid[1] - a.centroid[1]
                ),
            )
            d0 = np.hypot(dist[0].centroid[0] - a.centroid[0], dist[0].centroid[1] - a.centroid[1])
            d1 = np.hypot(dist[1].centroid[0] - a.centroid[0], dist[1].centroid[1] - a.centroid[1])
            if d1 >= NEAREST_RATIO * d0:
                add(
                    f"{sg} nearest to the {a_en}",
                    f"离{a_zh}最近的{zh}",
                    [dist[0]],
                    "nearest",
                    (a.category.name,),
                )
    return out


def multis(scene: Scene, head: _Head, anchors: Sequence[SceneObject]) -> list[Phrase]:
    """Every multi-target phrase the rules allow for the objects under ``head``."""
    group = _group(scene, head)
    out: list[Phrase] = []
    if len(group) < 2:
        return out
    side = float(min(scene.width, scene.height))
    pl, zh = head.plural, head.zh
    mentions = head.members

    def add(
        template: str,
        zh_text: str,
        objs: Sequence[SceneObject],
        rule: str,
        extra: tuple[str, ...] = (),
    ) -> None:
        if len(objs) >= 2:
            core, singular = template.format(w=pl), template.format(w=head.word)
            out.append(
                Phrase(
                    core, "all", zh_text, _sel(objs), rule, mentions + extra, head.word, singular
                )
            )

    add("{w}", f"所有{zh}", group, "all")
    for colour in sorted({o.colour for o in group}):
        chosen = [o for o in group if o.colour == colour]
        if len(chosen) < len(group):
            add(f"{colour} {{w}}", f"所有{COLOURS_ZH[colour]}{zh}", chosen, "colour")
    for size in ("small", "large"):
        chosen = [o for o in group if o.size == size]
        if len(chosen) < len(group):
            en_w, zh_w = SIZE_WORDS[size]
            add(f"{en_w} {{w}}", f"所有{zh_w}{zh}", chosen, "size")
    if head.category.look.background:
        return out
    for half, (en_h, zh_h) in HALVES.items():
        axis = 0 if half in ("left", "right") else 1
        mid = (scene.width if axis == 0 else scene.height) / 2
        if any(abs(o.centroid[axis] - mid) < HALF_MARGIN * side for o in group):
            continue
        low = half in ("left", "top")
        chosen = [o for o in group if (o.centroid[axis] < mid) == low]
        if len(chosen) < len(group):
            add(f"{{w}} {en_h}", f"{zh_h}所有{zh}", chosen, "half")
    for a in anchors:
        if a.category.name in head.members:
            continue
        for rel, (en_rel, zh_rel) in RELATIONS.items():
            side_set = _relation_set(group, a, rel)
            if side_set is not None and len(side_set) < len(group):
                add(
                    f"{{w}} {en_rel} the {a.category.en}",
                    f"{a.category.zh}{zh_rel}所有{zh}",
                    side_set,
                    "relation",
                    (a.category.name,),
                )
    return out


def nones(
    scene: Scene, head: _Head, anchors: Sequence[SceneObject], rng: np.random.Generator
) -> list[Phrase]:
    """No-target phrases about ``head``: an absent category, an absent colour, an empty relation."""
    group = _group(scene, head)
    out: list[Phrase] = []
    sg, zh = head.word, head.zh
    mentions = head.members
    if not group:
        out.append(Phrase(sg, "the", zh, (), "absent", mentions, head.word))
        if not head.category.look.stuff:
            out.append(Phrase(head.plural, "all", f"所有{zh}", (), "absent", mentions, head.word))
        return out
    palette = head.category.look.palette
    missing = [c for c in palette if all(o.colour != c for o in group)]
    if len(palette) > 1 and missing:
        c = missing[int(rng.integers(0, len(missing)))]
        out.append(
            Phrase(
                f"{c} {sg}", "the", f"{COLOURS_ZH[c]}{zh}", (), "absent-colour", mentions, head.word
            )
        )
    if head.category.look.background:
        return out
    for a in anchors:
        if a.category.name in head.members:
            continue
        for rel, (en_rel, zh_rel) in RELATIONS.items():
            chosen = _relation_set(group, a, rel)
            if chosen is not None and not chosen:
                out.append(
                    Phrase(
                        f"{sg} {en_rel} the {a.category.en}",
                        "the",
                        f"{a.category.zh}{zh_rel}{zh}",
                        (),
                        "absent-relation",
                        (*mentions, a.category.name),
                        head.word,
                    )
                )
    return out


def anchors(scene: Scene) -> list[SceneObject]:
    """Objects that can anchor a relation: the only object of their category, not an area."""
    counts: dict[str, int] = {}
    for o in scene.objects:
        counts[o.category.name] = counts.get(o.category.name, 0) + 1
    return [
        o for o in scene.objects if counts[o.category.name] == 1 and not o.category.look.background
    ]


def pairs(anc: Sequence[SceneObject]) -> list[Phrase]:
    """Two-target phrases naming two objects that are each alone in their category."""
    out: list[Phrase] = []
    for i, a in enumerate(anc):
        for b in anc[i + 1 :]:
            out.append(
                Phrase(
                    f"{a.category.en} and the {b.category.en}",
                    "the",
                    f"{a.category.zh}和{b.category.zh}",
                    _sel([a, b]),
                    "pair",
                    (a.category.name, b.category.name),
                    a.category.en,
                )
            )
    return out


def describe(scene: Scene, rng: np.random.Generator, hypernyms: bool = False) -> list[Phrase]:
    """Every phrase the grammar can say about a scene (single, multi and no-target)."""
    anc = anchors(scene)
    out: list[Phrase] = []
    for head in heads(scene.categories, hypernyms):
        out += singles(scene, head, anc)
        out += multis(scene, head, anc)
        out += nones(scene, head, anc, rng)
    out += pairs(anc)
    return out
