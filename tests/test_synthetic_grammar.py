"""The grammar selects exactly the objects its wording names (checked rule by rule, independently)."""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as coco_mask

from rrsis_bench.synthetic.categories import (
    NWPU_CATEGORIES,
    REFSEGRS_CATEGORIES,
    RISBENCH_CATEGORIES,
    RRSISD_CATEGORIES,
)
from rrsis_bench.synthetic.geometry import clip_to_image, polygon
from rrsis_bench.synthetic.grammar import Phrase, describe
from rrsis_bench.synthetic.raster import rasterize, runs, window
from rrsis_bench.synthetic.scene import Scene, compose

LAYOUT_CATEGORIES = {
    "nwpu": NWPU_CATEGORIES,
    "rrsisd": RRSISD_CATEGORIES,
    "refsegrs": REFSEGRS_CATEGORIES,
    "risbench": RISBENCH_CATEGORIES,
}


def _scenes(categories, n=12, size=192):
    return [compose(categories, np.random.default_rng([11, i]), size, size) for i in range(n)]


def _members(scene: Scene, p: Phrase):
    # the head word's objects, read from the scene independently of the grammar
    return [o for o in scene.objects if o.category.en == p.head or p.head in o.category.hypernyms]


def _expected(scene: Scene, p: Phrase) -> set[int] | None:
    """Re-evaluate the rule a phrase claims, from object attributes; None = rule not checked here."""
    group = _members(scene, p)
    text = p.core_singular or p.core
    if p.rule in ("all", "category"):
        return {o.index for o in group}
    if p.rule == "colour":
        colour = text.split(" ")[0]
        return {o.index for o in group if o.colour == colour}
    if p.rule == "size":
        size = text.split(" ")[0]
        return {o.index for o in group if o.size == size}
    if p.rule == "orientation":
        orient = text.split(" ")[0]
        return {o.index for o in group if o.orientation == orient}
    if p.rule == "extreme":
        axis, pick = {
            "leftmost": (0, min),
            "rightmost": (0, max),
            "top": (1, min),
            "bottom": (1, max),
        }[next(w for w in ("leftmost", "rightmost", "top", "bottom") if w in text)]
        best = pick(group, key=lambda o: o.centroid[axis])
        return {best.index}
    if p.rule == "largest":
        return {max(group, key=lambda o: o.area).index}
    if p.rule == "smallest":
        return {min(group, key=lambda o: o.area).index}
    if p.rule == "half":
        mid_x, mid_y = scene.width / 2, scene.height / 2
        if "left half" in text:
            return {o.index for o in group if o.centroid[0] < mid_x}
        if "right half" in text:
            return {o.index for o in group if o.centroid[0] >= mid_x}
        if "top half" in text:
            return {o.index for o in group if o.centroid[1] < mid_y}
        return {o.index for o in group if o.centroid[1] >= mid_y}
    if p.rule in ("absent", "absent-colour"):
        named = [o for o in group if p.rule == "absent" or o.colour == text.split(" ")[0]]
        return {o.index for o in named}
    if p.rule == "pair":
        a, b = text.split(" and the ")
        return {o.index for o in scene.objects if o.category.en in (a, b)}
    return None


@pytest.mark.parametrize("layout", sorted(LAYOUT_CATEGORIES))
def test_every_rule_selects_exactly_the_named_objects(layout):
    checked = 0
    rules = set()
    for scene in _scenes(LAYOUT_CATEGORIES[layout]):
        for p in describe(scene, np.random.default_rng(0), hypernyms=layout == "refsegrs"):
            want = _expected(scene, p)
            rules.add(p.rule)
            if want is None:
                continue
            assert set(p.objects) == want, (p.rule, p.en, p.objects, want)
            checked += 1
    assert checked > 100
    assert {"all", "colour", "extreme", "absent"} <= rules


def test_relations_and_nearest_hold_geometrically():
    n_rel = n_near = 0
    for scene in _scenes(NWPU_CATEGORIES, n=20):
        for p in describe(scene, np.random.default_rng(0)):
            if p.rule not in ("relation", "nearest") or not p.objects:
                continue
            anchor_word = p.core.rsplit(" the ", 1)[1]
            anchors = [o for o in scene.objects if o.category.en == anchor_word]
            assert len(anchors) == 1  # an anchor is the only object of its category
            a = anchors[0]
            ax, ay, aw, ah = a.bbox
            for i in p.objects:
                x, y, w, h = scene.objects[i].bbox
                if " to the left of " in p.core:
                    assert x + w < ax
                elif " to the right of " in p.core:
                    assert x > ax + aw
                elif " above " in p.core:
                    assert y + h < ay
                elif " below " in p.core:
                    assert y > ay + ah
            if p.rule == "nearest":
                n_near += 1
                (i,) = p.objects
                group = _members(scene, p)
                d = {
                    o.index: np.hypot(o.centroid[0] - a.centroid[0], o.centroid[1] - a.centroid[1])
                    for o in group
                }
                assert min(d, key=d.get) == i
            else:
                n_rel += 1
    assert n_rel > 5 and n_near > 2


def test_target_type_follows_the_number_of_objects():
    scene = _scenes(NWPU_CATEGORIES, n=1)[0]
    for p in describe(scene, np.random.default_rng(0)):
        assert p.target_type == {0: "none", 1: "single"}.get(len(p.objects), "multi")
        if p.target_type == "none":
            assert p.rule.startswith("absent")


def test_no_target_phrases_name_absent_things():
    for scene in _scenes(NWPU_CATEGORIES, n=10):
        present = {o.category.name for o in scene.objects}
        for p in describe(scene, np.random.default_rng(0)):
            if p.rule == "absent":
                assert not set(p.mentions) & present
            elif p.rule == "absent-colour":
                colour = p.core.split(" ")[0]
                assert all(
                    o.colour != colour for o in scene.objects if o.category.name in p.mentions
                )


def test_object_masks_are_their_polygons_rasterised_by_pycocotools():
    for scene in _scenes(NWPU_CATEGORIES, n=6, size=160):
        for o in scene.objects:
            ref = coco_mask.merge(coco_mask.frPyObjects([o.polygon], scene.height, scene.width))
            assert ref["counts"].decode() == o.mask["counts"]
            assert o.area == int(coco_mask.area(ref)) > 0


def test_countable_objects_do_not_overlap():
    for scene in _scenes(RRSISD_CATEGORIES, n=8, size=160):
        things = [o for o in scene.objects if not o.category.look.background]
        total = np.zeros((scene.height, scene.width), dtype=np.int32)
        for o in things:
            total += coco_mask.decode({"size": o.mask["size"], "counts": o.mask["counts"].encode()})
        assert total.max() <= 1


def test_window_decoding_matches_pycocotools():
    rng = np.random.default_rng(5)
    for _ in range(50):
        h, w = (int(v) for v in rng.integers(5, 90, 2))
        m = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        rle = coco_mask.encode(np.asfortranarray(m))
        ours = {"size": [h, w], "counts": rle["counts"].decode()}
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = int(rng.integers(x0, w + 1)), int(rng.integers(y0, h + 1))
        assert (window(ours, x0, x1, y0, y1) == m[y0:y1, x0:x1].astype(bool)).all()
        assert int(runs(ours["counts"]).sum()) == h * w


def test_rasterize_equals_from_polygons():
    poly = polygon("ship", 40.0, 30.0, 30.0, 8.0, 0.4)
    rle = rasterize([float(v) for v in poly.reshape(-1)], 64, 80)
    ref = coco_mask.merge(coco_mask.frPyObjects([poly.reshape(-1).tolist()], 64, 80))
    assert rle["counts"] == ref["counts"].decode()


def test_clip_to_image_keeps_a_band_inside_the_image():
    band = polygon("rect", 50.0, 50.0, 400.0, 10.0, 0.0)
    clipped = clip_to_image(band, 100, 80)
    assert clipped.tolist() == [[0.0, 45.0], [100.0, 45.0], [100.0, 55.0], [0.0, 55.0]]
    assert clip_to_image(polygon("rect", -50.0, -50.0, 10.0, 10.0, 0.0), 100, 80).shape == (0, 2)
