"""Synthetic releases: exact raw layouts, quirks, splits, determinism, masks read back from disk."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask
from typer.testing import CliRunner

from rrsis_bench.cli import app
from rrsis_bench.errors import OutputExistsError, UnknownNameError
from rrsis_bench.synthetic import generate
from rrsis_bench.synthetic.base import split_plan
from rrsis_bench.synthetic.categories import (
    NWPU_CATEGORIES,
    REFSEGRS_LEXICON,
    RISBENCH_CATEGORIES,
    RRSISD_CATEGORIES,
)

SIZE = 128


def _decode(rle) -> np.ndarray:
    return coco_mask.decode({"size": list(rle["size"]), "counts": rle["counts"].encode()})


def _tree(path: Path) -> dict[str, str]:
    return {
        f.relative_to(path).as_posix(): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(path.rglob("*"))
        if f.is_file()
    }


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    base = tmp_path_factory.mktemp("synth")
    return {
        layout: generate(layout, base / layout, n_images=8, size=SIZE, seed=3, progress=False)
        for layout in ("refsegrs", "rrsis-d", "nwpu-refer", "phrase")
    }


@pytest.mark.parametrize("layout", ["refsegrs", "rrsis-d", "nwpu-refer", "phrase"])
def test_same_seed_gives_identical_bytes_whatever_the_process_count(tmp_path, layout):
    a = generate(layout, tmp_path / "a", n_images=6, size=96, seed=5, num_proc=1, progress=False)
    b = generate(layout, tmp_path / "b", n_images=6, size=96, seed=5, num_proc=2, progress=False)
    c = generate(layout, tmp_path / "c", n_images=6, size=96, seed=6, progress=False)
    assert _tree(a.out) == _tree(b.out)
    assert _tree(a.out) != _tree(c.out)
    assert [t.to_json() for t in a.truth] == [t.to_json() for t in b.truth]


def test_split_plan_is_contiguous_and_never_empty():
    assert split_plan(3) == ["train", "val", "test"]
    assert split_plan(10) == ["train"] * 6 + ["val"] * 2 + ["test"] * 2
    with pytest.raises(ValueError, match="Expected at least 3 images"):
        split_plan(2)


# ----------------------------------------------------------------------------- RRSIS-D


def test_rrsisd_layout_files_and_quirks(releases):
    r = releases["rrsis-d"]
    root = r.out
    refs = pickle.loads((root / "rrsisd" / "refs(unc).p").read_bytes())
    inst = json.loads((root / "rrsisd" / "instances.json").read_text())
    assert len(refs) == 8 == len(inst["images"]) == len(inst["annotations"])
    assert [c["name"] for c in inst["categories"]] == [c.name for c in RRSISD_CATEGORIES]
    assert inst["categories"][0] == {"name": "Expressway-Service-area", "id": 0}
    anns = {a["id"]: a for a in inst["annotations"]}
    truth = {t.key: t for t in r.truth}
    ids = []
    for ref in refs:
        assert list(ref) == [
            "image_id",
            "split",
            "sentences",
            "file_name",
            "category_id",
            "ann_id",
            "sent_ids",
            "ref_id",
        ]
        iid = ref["image_id"]
        ids.append(iid)
        assert ref["ref_id"] == ref["ann_id"] == iid == ref["sent_ids"][0]
        (sent,) = ref["sentences"]
        assert list(sent) == ["tokens", "raw", "sent_id", "sent"]
        assert sent["raw"] == sent["sent"] and sent["tokens"] == sent["raw"].split(" ")
        assert sent["raw"][0].isupper()
        assert ref["file_name"] == f"{iid:05d}.jpg"
        assert (root / "images" / "rrsisd" / "JPEGImages" / ref["file_name"]).is_file()
        ann = anns[iid]
        assert "category_id" not in ann and ann["categories_id"] == ref["category_id"]
        (rle,) = ann["segmentation"]
        m = _decode(rle)
        assert (m == _decode(truth[str(iid)].mask)).all()
        area = int(m.sum())
        assert 188 * area <= ann["area"] <= 249 * area  # the release's bogus area
        ys, xs = np.nonzero(m)
        x1, y1, x2, y2 = ann["bbox"]  # [x1, y1, x2, y2]
        assert abs(x1 - xs.min()) <= 1 and abs(y1 - ys.min()) <= 1
        assert abs(x2 - (xs.max() + 1)) <= 1 and abs(y2 - (ys.max() + 1)) <= 1
        xml = (root / "images" / "rrsisd" / "ann_split" / f"{iid:05d}.xml").read_text()
        assert xml.count("<segmentation>") == 1
        assert xml.rindex("<object>") < xml.index("<segmentation>")
        assert f"<split>{ref['split']}</split>" in xml
    assert all(len(str(i)) <= 5 for i in ids) and ids == sorted(ids)
    assert len(set(np.diff(ids))) > 1 or max(np.diff(ids)) > 1  # not contiguous


# ----------------------------------------------------------------------------- NWPU-Refer


def test_nwpu_layout_files_and_quirks(releases):
    r = releases["nwpu-refer"]
    root = r.out
    assert (root / "new_refs(unc).p").is_file() and (root / "new_instances.json").is_file()
    refs = pickle.loads((root / "new_refs(unc).p").read_bytes())
    inst = json.loads((root / "new_instances.json").read_text())
    names = [c["name"] for c in inst["categories"]]
    assert names == [c.name for c in NWPU_CATEGORIES] + ["no target"]
    no_target = inst["categories"][-1]["id"]
    anns = {a["id"]: a for a in inst["annotations"]}
    images = {i["id"]: i for i in inst["images"]}
    for img in images.values():
        assert (root / "image" / "image" / img["file_name"]).is_file()
    groups: dict[tuple[int, str, str], list[int]] = defaultdict(list)
    languages = set()
    for ref in refs:
        assert isinstance(ref["ann_id"], int)
        ann = anns[ref["ann_id"]]
        assert ann["image_id"] == ref["image_id"] and ann["category_id"] == ref["category_id"]
        for s in ref["sentences"]:
            groups[(ref["image_id"], s["sent"], ref["split"])].append(ref["ann_id"])
            languages.add("zh" if re.search("[\u4e00-\u9fff]", s["sent"]) else "en")
    assert languages == {"en", "zh"}
    # every (image, sentence) group, rasterised independently, is the truth mask
    truth = {(t.key, t.text): t for t in r.truth}
    assert len(truth) == len(groups) == len(r.truth)
    kinds = set()
    for (iid, text, split), ann_ids in groups.items():
        t = truth[(str(iid), text)]
        assert t.split == split
        h, w = images[iid]["height"], images[iid]["width"]
        union = np.zeros((h, w), dtype=bool)
        for aid in ann_ids:
            ann = anns[aid]
            if ann["category_id"] == no_target:
                assert ann["segmentation"] == [] and len(ann_ids) == 1
                continue
            (poly,) = ann["segmentation"]
            union |= coco_mask.decode(coco_mask.merge(coco_mask.frPyObjects([poly], h, w))) > 0
        assert (union == _decode(t.mask).astype(bool)).all()
        kind = (
            "none"
            if anns[ann_ids[0]]["category_id"] == no_target
            else ("multi" if len(ann_ids) > 1 else "single")
        )
        assert kind == t.target_type
        kinds.add(kind)
    assert kinds == {"single", "multi", "none"}


# ----------------------------------------------------------------------------- RefSegRS


def test_refsegrs_layout_files_and_quirks(releases):
    r = releases["refsegrs"]
    root = r.root
    assert root == r.out / "RefSegRS"
    seen: dict[str, str] = {}
    by_mask: dict[str, set[str]] = defaultdict(set)
    truth = {t.key: t for t in r.truth}
    for split in ("train", "val", "test"):
        for line in (root / f"output_phrase_{split}.txt").read_text().splitlines():
            assert re.fullmatch(r"[1-9]\d* [a-z][a-z -]*[a-z]", line), line
            sid, text = line.split(" ", 1)
            assert sid not in seen
            seen[sid] = split
            assert truth[sid].text == text and truth[sid].split == split
            assert any(w in text for w in REFSEGRS_LEXICON)
            img = Image.open(root / "images" / f"{sid}.tif")
            assert (img.format, img.mode, img.size) == ("TIFF", "RGB", (SIZE, SIZE))
            mask = Image.open(root / "masks" / f"{sid}.tif")
            assert (mask.mode, mask.info["compression"]) == ("L", "tiff_lzw")
            arr = np.asarray(mask)
            assert set(np.unique(arr)) <= {0, 255} and arr.any()
            assert ((arr > 50) == _decode(truth[sid].mask).astype(bool)).all()
            by_mask[hashlib.sha256(arr.tobytes()).hexdigest()].add(text)
    assert len(seen) == len(r.truth)
    ids = sorted(int(s) for s in seen)
    assert ids != list(range(ids[0], ids[0] + len(ids)))  # non-contiguous ids
    assert any(len(texts) > 1 for texts in by_mask.values())  # synonyms share a mask


# ----------------------------------------------------------------------------- RISBench


def test_risbench_layout_files_and_quirks(releases):
    r = releases["phrase"]
    root = r.root
    assert root == r.out / "RISBench_dataset"
    truth = {t.key: t for t in r.truth}
    stems: dict[str, list[str]] = {}
    for split in ("train", "val", "test"):
        lines = (root / f"output_phrase_{split}.txt").read_text().splitlines()
        stems[split] = []
        for line in lines:
            name, text = line.split(" ", 1)
            stem = name[: -len(".png")]
            assert name.endswith(".png") and truth[stem].text == text
            stems[split].append(stem)
            assert re.fullmatch(r"(train|test)_\d+_\d+", stem)
            img = Image.open(root / "img_rgb" / name)
            assert (img.format, img.mode) == ("PNG", "RGB")
            m = np.asarray(Image.open(root / "mask" / name))
            assert set(np.unique(m)) == {0, 255}
            assert ((m > 0) == _decode(truth[stem].mask).astype(bool)).all()
            assert any(c.name in " ".join(text.split()) for c in RISBENCH_CATEGORIES)
    assert all(s.startswith("train_") for s in stems["train"] + stems["val"])
    assert all(s.startswith("test_") for s in stems["test"])
    assert all(t.target_type == "single" for t in r.truth)


# ----------------------------------------------------------------------------- all layouts


@pytest.mark.parametrize("layout", ["refsegrs", "rrsis-d", "nwpu-refer", "phrase"])
def test_no_image_in_two_splits(releases, layout):
    by_image: dict[str, set[str]] = defaultdict(set)
    for t in releases[layout].truth:
        pixels = hashlib.sha256((releases[layout].root / t.image).read_bytes()).hexdigest()
        by_image[pixels].add(t.split)
    assert all(len(s) == 1 for s in by_image.values())
    assert {s for v in by_image.values() for s in v} == {"train", "val", "test"}


@pytest.mark.parametrize("layout", ["refsegrs", "rrsis-d", "nwpu-refer", "phrase"])
def test_truth_masks_are_unions_of_the_selected_objects_and_no_target_is_empty(releases, layout):
    for t in releases[layout].truth:
        area = int(_decode(t.mask).sum())
        assert (area == 0) == (t.target_type == "none")
        assert len(t.object_ids) == {"none": 0, "single": 1}.get(t.target_type, len(t.object_ids))


def test_truth_jsonl(tmp_path, releases):
    r = releases["nwpu-refer"]
    r.write_truth(tmp_path / "truth.jsonl")
    rows = [json.loads(x) for x in (tmp_path / "truth.jsonl").read_text().splitlines()]
    assert len(rows) == len(r.truth)
    assert set(rows[0]) == {
        "split",
        "image",
        "key",
        "text",
        "language",
        "target_type",
        "mask",
        "object_ids",
        "categories",
        "mentions",
        "rule",
    }


def test_errors(tmp_path):
    with pytest.raises(
        UnknownNameError,
        match="Expected layout to be one of nwpu-refer, phrase, refsegrs, rrsis-d, but got 'coco'",
    ):
        generate("coco", tmp_path / "x")
    with pytest.raises(ValueError, match="Expected --size between 64 and 4096 pixels, but got 32"):
        generate("phrase", tmp_path / "x", size=32)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    for overwrite in (False, True):
        with pytest.raises(OutputExistsError) as info:
            generate("phrase", tmp_path / "full", n_images=3, size=64, overwrite=overwrite)
        assert str(info.value) == (
            f"{tmp_path / 'full'} exists and is not a synthetic release written by rrsis-bench "
            "synth (no .rrsis-bench-synth.json); choose another --out (it is never replaced)"
        )
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    (tmp_path / "file.txt").write_text("mine")
    with pytest.raises(OutputExistsError) as info:
        generate("phrase", tmp_path / "file.txt", n_images=3, size=64, overwrite=True)
    assert str(info.value) == (
        f"{tmp_path / 'file.txt'} exists and is not a folder; choose another --out "
        "(it is never replaced)"
    )
    assert (tmp_path / "file.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "file.txt",
        "full",
    ]  # nothing half-written


def test_overwrite_replaces_only_an_earlier_release(tmp_path):
    generate("phrase", tmp_path / "r", n_images=3, size=64, seed=1)
    assert json.loads((tmp_path / "r" / ".rrsis-bench-synth.json").read_text()) == {
        "schema": "rrsis-bench/synth/1",
        "layout": "phrase",
        "images": 3,
        "size": 64,
        "seed": 1,
    }
    with pytest.raises(OutputExistsError) as info:
        generate("phrase", tmp_path / "r", n_images=3, size=64, seed=1)
    assert str(info.value) == (
        f"{tmp_path / 'r'} already holds a synthetic release; pass --overwrite to replace it"
    )
    (tmp_path / "r" / "stale.txt").write_text("old")
    generate("rrsis-d", tmp_path / "r", n_images=3, size=64, seed=2, overwrite=True)
    assert not (tmp_path / "r" / "stale.txt").exists()
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        ".rrsis-bench-synth.json",
        "images",
        "rrsisd",
    ]
    assert json.loads((tmp_path / "r" / ".rrsis-bench-synth.json").read_text())["seed"] == 2
    (tmp_path / "empty").mkdir()
    generate("phrase", tmp_path / "empty", n_images=3, size=64, overwrite=True)
    assert (tmp_path / "empty" / "RISBench_dataset" / "output_phrase_test.txt").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "r"]


def test_cli_synth_overwrite_never_deletes_a_folder_it_did_not_write(tmp_path):
    victim = tmp_path / "victim"
    (victim / "sub").mkdir(parents=True)
    (victim / "thesis.tex").write_text("\\documentclass{article}")
    (victim / "sub" / "data.csv").write_text("a,b")
    args = ["synth", "--layout", "refsegrs", "--out", str(victim), "--images", "3"]
    res = CliRunner().invoke(app, [*args, "--size", "64", "--overwrite", "-q"])
    assert res.exit_code == 1
    assert res.stdout == ""
    assert res.stderr.strip() == (
        f"error: {victim} exists and is not a synthetic release written by rrsis-bench synth "
        "(no .rrsis-bench-synth.json); choose another --out (it is never replaced)"
    )
    assert (victim / "thesis.tex").read_text() == "\\documentclass{article}"
    assert (victim / "sub" / "data.csv").read_text() == "a,b"
    assert sorted(p.name for p in victim.iterdir()) == ["sub", "thesis.tex"]
    assert [p.name for p in tmp_path.iterdir()] == ["victim"]


def test_cli_synth(tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "synth",
            "--layout",
            "rrsis-d",
            "--out",
            str(tmp_path / "d"),
            "--images",
            "3",
            "--size",
            "64",
            "--truth",
            str(tmp_path / "t.jsonl"),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(tmp_path / "d")
    assert "build it with: rrsis-bench build rrsis-d --raw" in res.stderr
    assert len((tmp_path / "t.jsonl").read_text().splitlines()) == 3
    again = ["synth", "--layout", "rrsis-d", "--out", str(tmp_path / "d2"), "--images", "3"]
    again += ["--size", "64", "--truth", str(tmp_path / "t.jsonl"), "--seed", "1", "-q"]
    kept = runner.invoke(app, again)
    assert kept.exit_code == 1
    assert kept.stderr.strip() == (
        f"error: {tmp_path / 't.jsonl'} already exists; pass --overwrite to replace it"
    )
    assert not (tmp_path / "d2").exists()  # refused before anything was generated
    before = (tmp_path / "t.jsonl").read_text()
    replaced = runner.invoke(app, [*again, "--overwrite"])
    assert replaced.exit_code == 0, replaced.output
    after = (tmp_path / "t.jsonl").read_text()
    assert len(after.splitlines()) == 3 and after != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "d2", "t.jsonl"]
    bad = runner.invoke(app, ["synth", "--layout", "x", "--out", str(tmp_path / "e")])
    assert bad.exit_code == 1
    assert bad.stderr.strip() == (
        "error: Expected layout to be one of nwpu-refer, phrase, refsegrs, rrsis-d, but got 'x'"
    )
    small = runner.invoke(
        app, ["synth", "--layout", "phrase", "--out", str(tmp_path / "f"), "--size", "8"]
    )
    assert small.exit_code == 2
    assert small.stderr.strip() == "error: Expected --size between 64 and 4096 pixels, but got 8"


def test_images_are_real_jpegs(releases):
    r = releases["nwpu-refer"]
    f = next((r.root / "image" / "image").iterdir())
    img = Image.open(io.BytesIO(f.read_bytes()))
    assert (img.format, img.mode, img.size) == ("JPEG", "RGB", (SIZE, SIZE))


def test_truth_streams_into_a_pipe(releases, tmp_path):
    import os
    import threading

    r = releases["rrsis-d"]
    fifo = tmp_path / "truth.fifo"
    os.mkfifo(fifo)
    got: list[str] = []
    reader = threading.Thread(target=lambda: got.extend(open(fifo, encoding="utf-8")))
    reader.start()
    r.write_truth(fifo)  # no --overwrite needed: a pipe is not a file to replace
    reader.join(timeout=30)
    assert [json.loads(line)["key"] for line in got] == [t.key for t in r.truth]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["truth.fifo"]
