from __future__ import annotations

import io
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from data.interop.data import expected_masks, write_built
from pycocotools import mask as coco_mask

from rrsis_bench.errors import OutputExistsError, UnknownNameError
from rrsis_bench.export import export
from rrsis_bench.export.common import integer_ids, rectangles


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_built(tmp_path_factory.mktemp("export"))


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    return expected_masks(tmp_path_factory.mktemp("expected"))


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise AssertionError(f"the pickle references {module}.{name}")


def _plain_pickle(path: Path) -> Any:
    return _NoGlobals(io.BytesIO(path.read_bytes())).load()


def _decode_segmentation(seg: Any, height: int, width: int) -> np.ndarray:
    """REFER getMask semantics: polygons or a list of RLEs, decoded, stacked, summed."""
    if isinstance(seg[0], list):
        rles = coco_mask.frPyObjects(seg, height, width)
    else:
        rles = seg
    stacked = coco_mask.decode(rles)
    return np.sum(stacked, axis=2).astype(np.uint8)


class Refer:
    """An independent reader with the REFER API's semantics (one annotation per ref)."""

    def __init__(self, root: Path, dataset: str):
        self.refs = _plain_pickle(root / dataset / "refs(unc).p")
        inst = json.loads((root / dataset / "instances.json").read_text())
        self.anns = {a["id"]: a for a in inst["annotations"]}
        self.imgs = {i["id"]: i for i in inst["images"]}
        self.cats = {c["id"]: c["name"] for c in inst["categories"]}

    def ref_ids(self, split: str) -> list[int]:
        return [r["ref_id"] for r in self.refs if r["split"] == split]

    def get_mask(self, ref: dict) -> np.ndarray:
        ann = self.anns[ref["ann_id"]]
        img = self.imgs[ref["image_id"]]
        return _decode_segmentation(ann["segmentation"], img["height"], img["width"])


class GRefer:
    """An independent reader with gRefCOCO G_REFER semantics (ann_id lists, [-1] = no target)."""

    def __init__(self, root: Path, dataset: str):
        self.refs = json.loads((root / dataset / "grefs(unc).json").read_text())
        inst = json.loads((root / dataset / "instances.json").read_text())
        self.anns = {a["id"]: a for a in inst["annotations"]}
        self.imgs = {i["id"]: i for i in inst["images"]}

    def get_mask_by_ref(self, ref: dict, merge: bool = True) -> dict[str, Any]:
        img = self.imgs[ref["image_id"]]
        if ref["ann_id"] == [-1]:
            return {"mask": np.zeros((img["height"], img["width"]), np.uint8), "empty": True}
        anns = [self.anns[a] for a in ref["ann_id"] if not self.anns[a]["iscrowd"]]
        per_ann = [
            _decode_segmentation(a["segmentation"], img["height"], img["width"]) for a in anns
        ]
        merged = sum(per_ann)
        merged[merged > 1] = 1
        return {"mask": merged, "empty": False}


def _sample_ids(out: Path) -> dict[int, str]:
    marker = json.loads((out / "rrsis_bench_export.json").read_text())
    return {int(k): v for k, v in marker["sent_id_to_sample_id"].items()}


def test_refer_export_as_rrsisd(built: Path, tmp_path: Path, expected):
    out = tmp_path / "refer"
    result = export(built, None, out, preset="rrsisd")
    assert (out / "rrsisd" / "refs(unc).p").is_file()
    assert result.skipped == {"no_target": 3}
    assert result.counts == {
        "train": {"images": 3, "refs": 5, "sentences": 6},
        "val": {"images": 1, "refs": 2, "sentences": 2},
        "test": {"images": 2, "refs": 2, "sentences": 2},
    }
    assert result.annotations == 11  # 9 objects + 2 multi-target unions
    refer = Refer(out, "rrsisd")
    ids = _sample_ids(out)
    checked = 0
    for ref in refer.refs:
        mask = refer.get_mask(ref)
        for sent in ref["sentences"]:
            assert np.array_equal(mask, expected[ids[sent["sent_id"]]])
            checked += 1
        img = refer.imgs[ref["image_id"]]
        assert (out / "images/rrsisd/JPEGImages" / img["file_name"]).is_file()
    assert checked == 10
    assert sorted(refer.ref_ids("train")) == [1, 2, 3, 4, 7]
    ref3 = next(r for r in refer.refs if r["ref_id"] == 3)
    assert [s["raw"] for s in ref3["sentences"]] == ["the upper vehicle", "vehicle near the top"]
    assert ref3["sentences"][0]["tokens"] == ["the", "upper", "vehicle"]
    assert refer.cats[ref3["category_id"]] == "vehicle"
    ann = refer.anns[ref3["ann_id"]]
    assert len(ann["segmentation"]) == 1 and isinstance(ann["segmentation"][0]["counts"], str)
    assert ann["bbox"] == [float(v) for v in coco_mask.toBbox(ann["segmentation"][0])]
    assert "3 no-target expressions left out: REFER refs need an annotation" in result.notes


def test_refer_images_are_the_stored_bytes(built: Path, tmp_path: Path):
    out = tmp_path / "refer"
    export(built, "refer", out)
    raw = built.parent.parent / "raw" / "tiny" / "JPEGImages"
    names = sorted(p.name for p in (out / "images" / "tiny" / "JPEGImages").iterdir())
    assert names == ["1.jpg", "10.jpg", "2.png", "3.jpg", "4.jpg", "5.jpg"]
    for name in names:
        assert (out / "images/tiny/JPEGImages" / name).read_bytes() == (raw / name).read_bytes()


def test_refcoco_preset_paths(built: Path, tmp_path: Path):
    out = tmp_path / "refcoco"
    export(built, "refer", out, preset="refcoco", splits=["val"])
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "images/mscoco/images/train2014/3.jpg",
        "refcoco/instances.json",
        "refcoco/refs(unc).p",
        "rrsis_bench_export.json",
    ]


@pytest.mark.parametrize("mode", ["polygon", "rle"])
def test_grefer_export_is_faithful(built: Path, tmp_path: Path, expected, mode: str):
    out = tmp_path / "grefer"
    result = export(built, None, out, preset="grefcoco", segmentation=mode)
    assert (out / "images/train2014/1.jpg").is_file()
    assert result.counts == {
        "train": {"images": 3, "refs": 7, "sentences": 8},
        "val": {"images": 1, "refs": 2, "sentences": 2},
        "testA": {"images": 2, "refs": 3, "sentences": 3},
    }
    assert result.skipped == {}
    assert result.annotations == 9
    g = GRefer(out, "grefcoco")
    ids = _sample_ids(out)
    empty = []
    for ref in g.refs:
        got = g.get_mask_by_ref(ref, merge=True)
        for sent in ref["sentences"]:
            sid = ids[sent["sent_id"]]
            assert np.array_equal(got["mask"], expected[sid]), sid
            if got["empty"]:
                empty.append(sid)
    assert empty == ["5", "6", "11"]
    assert all(r["no_target"] == (r["ann_id"] == [-1]) for r in g.refs)
    assert sum(r["no_target"] for r in g.refs) == 3
    multi = next(r for r in g.refs if r["sentences"][0]["raw"] == "all vehicles")
    assert len(multi["ann_id"]) == 2 and multi["category_id"] == [18]
    assert {r["split"] for r in g.refs} == {"train", "val", "testA"}
    segs = [a["segmentation"] for a in g.anns.values()]
    if mode == "polygon":
        assert all(isinstance(s[0], list) and len(s[0]) >= 6 for s in segs)
        assert [s for s in segs if s == [[0.0] * 6]] == [[[0.0] * 6]]  # the empty object
        assert (
            "1 empty masks written as a zero-area polygon (it rasterises to an empty mask)"
            in result.notes
        )
    else:
        assert all(isinstance(s[0], dict) for s in segs)


def test_coco_export_loads_with_pycocotools(built: Path, tmp_path: Path, expected):
    from pycocotools.coco import COCO

    out = tmp_path / "coco"
    result = export(built, "coco", out)
    assert result.counts["test"] == {"images": 2, "refs": 3, "sentences": 3}
    coco = COCO(str(out / "annotations/instances_train.json"))
    assert len(coco.getImgIds()) == 3 and len(coco.getAnnIds()) == 5
    doc = json.loads((out / "annotations/instances_train.json").read_text())
    by_sample = {r["sample_id"]: r for r in doc["referring"]}
    assert len(by_sample) == 8
    multi = by_sample["2"]
    union = np.zeros((48, 64), np.uint8)
    for ann_id in multi["ann_ids"]:
        union |= coco.annToMask(coco.anns[ann_id])
    assert np.array_equal(union, expected["2"])
    assert np.array_equal(coco_mask.decode(multi["segmentation"]), expected["2"])
    results = json.loads((out / "annotations/results_example_train.json").read_text())
    assert [r["sample_id"] for r in results] == list(by_sample)
    assert [r["sample_id"] for r in results if r["no_target"]] == ["5", "6"]
    targeted = [r for r in results if not r["no_target"]]
    res = coco.loadRes(targeted)
    assert len(res.getAnnIds()) == 6
    assert (out / "images/train/2.png").is_file()


def test_export_is_atomic_and_refuses_foreign_folders(built: Path, tmp_path: Path, monkeypatch):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    with pytest.raises(OutputExistsError, match="exists and is not an rrsis-bench export"):
        export(built, "refer", foreign)
    out = tmp_path / "out"
    export(built, "refer", out)
    with pytest.raises(
        OutputExistsError, match="already holds an rrsis-bench export; pass --overwrite"
    ):
        export(built, "refer", out)

    import rrsis_bench.export.refer as refer_mod

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(refer_mod, "write_images", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        export(built, "refer", out, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign", "out"]
    assert (out / "tiny" / "refs(unc).p").is_file()


def test_bad_arguments(built: Path, tmp_path: Path):
    with pytest.raises(
        UnknownNameError,
        match="Expected export format to be one of refer, grefer, coco, but got 'voc'",
    ):
        export(built, "voc", tmp_path / "x")
    with pytest.raises(
        UnknownNameError, match="Expected --as preset to be one of rrsisd, refcoco, grefcoco"
    ):
        export(built, None, tmp_path / "x", preset="lavt")
    with pytest.raises(
        UnknownNameError,
        match="Expected format for --as grefcoco to be one of grefer, but got 'refer'",
    ):
        export(built, "refer", tmp_path / "x", preset="grefcoco")
    with pytest.raises(UnknownNameError, match="Expected segmentation to be one of rle, polygon"):
        export(built, "refer", tmp_path / "x", segmentation="bitmap")
    assert not (tmp_path / "x").exists()


def test_rectangles_rasterise_exactly():
    rng = np.random.default_rng(0)
    for _ in range(40):
        h, w = int(rng.integers(1, 30)), int(rng.integers(1, 30))
        m = (rng.random((h, w)) < rng.random()).astype(np.uint8)
        polys = rectangles(m)
        if not m.any():
            assert polys == []
            continue
        got = coco_mask.decode(coco_mask.frPyObjects(polys, h, w)).sum(axis=2)
        assert got.max() == 1
        assert np.array_equal(got.astype(np.uint8), m)


def test_integer_ids():
    assert integer_ids(["3", "10", "3"]) == {"3": 3, "10": 10}
    assert integer_ids(["007", "7"]) == {"007": 1, "7": 2}
    assert integer_ids(["x", "y"], start=0) == {"x": 0, "y": 1}


@pytest.fixture(scope="module")
def refsegrs_built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A RefSegRS build (a source with no instances: every mask is the expression's own)."""
    from data.refsegrs.data import write_refsegrs

    from rrsis_bench.builders import build

    raw = tmp_path_factory.mktemp("refsegrs_raw")
    write_refsegrs(raw)
    out = tmp_path_factory.mktemp("refsegrs_built") / "refsegrs"
    build("refsegrs", raw, out)
    return out


def test_source_without_instances_exports_every_mask(refsegrs_built: Path, tmp_path: Path):
    from rrsis_bench.expressions import ExpressionView

    truth = {e.sample_id: e.mask for e in ExpressionView(refsegrs_built)}
    assert len(truth) == 19
    refer_out = tmp_path / "refer"
    r = export(refsegrs_built, None, refer_out, preset="rrsisd")
    assert r.annotations == 19 and r.skipped == {}
    assert r.notes[0] == (
        "19 refs on images without annotated objects (the source has no instances) got an "
        "annotation holding the expression's mask"
    )
    refer = Refer(refer_out, "rrsisd")
    ids = _sample_ids(refer_out)
    for ref in refer.refs:
        for sent in ref["sentences"]:
            assert np.array_equal(refer.get_mask(ref), truth[ids[sent["sent_id"]]])
    assert sorted(refer.ref_ids("val")) == [25, 387, 472, 1489, 4444, 4497]
    g_out = tmp_path / "grefer"
    export(refsegrs_built, None, g_out, preset="grefcoco")
    g = GRefer(g_out, "grefcoco")
    ids = _sample_ids(g_out)
    for ref in g.refs:
        got = g.get_mask_by_ref(ref)
        assert not got["empty"]
        assert np.array_equal(got["mask"], truth[ids[ref["sentences"][0]["sent_id"]]])


def test_segmentation_modes_and_fallbacks():
    from rrsis_bench import masks
    from rrsis_bench.export.common import ImageInfo, export_notes, segmentation

    img = ImageInfo(0, "1", "train", "1.jpg", width=5, height=4, objects=[])
    m = np.zeros((4, 5), np.uint8)
    m[1:3, 2:4] = 1
    counts: dict[str, int] = {}
    assert segmentation(masks.encode(m), "polygon", img, counts) == [
        [2.0, 1.0, 4.0, 1.0, 4.0, 3.0, 2.0, 3.0]
    ]
    assert segmentation(masks.encode(m), "rle", img, counts) == [masks.encode(m)]
    other = masks.encode(np.ones((6, 5), np.uint8))
    assert segmentation(other, "polygon", img, counts) == [other]
    assert segmentation(masks.empty(4, 5), "polygon", img, counts) == [[0.0] * 6]
    assert counts == {"size_mismatch_kept_as_rle": 1, "empty_mask_zero_area_polygon": 1}
    assert export_notes(counts, {}) == [
        "1 empty masks written as a zero-area polygon (it rasterises to an empty mask)",
        "1 masks whose size differs from the image kept as RLE (polygons are drawn at the image "
        "size; polygon-only readers such as ReLA's loader skip them)",
    ]
