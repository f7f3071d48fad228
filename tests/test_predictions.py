"""Prediction readers and writers: round trips of the three formats, PNG rules, syntax errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rrsis_bench import masks
from rrsis_bench.errors import FormatError, OutputExistsError, UnknownNameError
from rrsis_bench.predictions import (
    MaskReadError,
    open_predictions,
    read_png_mask,
    write_predictions,
)


def _masks(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = {f"s{k}": (rng.random((9 + k, 13)) < 0.4).astype(np.uint8) for k in range(5)}
    out["empty"] = np.zeros((7, 7), np.uint8)
    return out


def _decoded(preds, sid: str) -> np.ndarray:
    p = preds.get(sid)
    return read_png_mask(p.path) if p.path is not None else masks.decode(p.rle)


@pytest.mark.parametrize(
    ("fmt", "name"), [("png", "pngs"), ("jsonl", "p.jsonl"), ("coco", "p.json")]
)
def test_round_trip(tmp_path: Path, fmt: str, name: str) -> None:
    ms = _masks()
    out = write_predictions(ms, tmp_path / name, fmt)
    with open_predictions(out) as preds:
        assert preds.format == fmt
        assert sorted(preds.sample_ids()) == sorted(ms)
        assert preds.problems == []
        for sid, m in ms.items():
            assert np.array_equal(_decoded(preds, sid), m.astype(bool)), sid


def test_round_trip_png_1bit_and_rle_input(tmp_path: Path) -> None:
    ms = _masks(1)
    items = [{"sample_id": sid, "mask": masks.encode(m)} for sid, m in ms.items()]
    out = write_predictions(items, tmp_path / "bits", "png", png_mode="1")
    assert Image.open(out / "s0.png").mode == "1"
    with open_predictions(out) as preds:
        for sid, m in ms.items():
            assert np.array_equal(_decoded(preds, sid), m.astype(bool))


def test_no_target_round_trip_jsonl_and_coco(tmp_path: Path) -> None:
    m = np.ones((4, 4), np.uint8)
    items = [
        {"sample_id": "a", "mask": m, "no_target": True},
        {"sample_id": "b", "mask": None, "no_target": True},
        {"sample_id": "c", "mask": m, "no_target": False},
    ]
    for fmt, name in (("jsonl", "p.jsonl"), ("coco", "p.json")):
        with open_predictions(write_predictions(items, tmp_path / name, fmt)) as preds:
            assert [preds.get(s).no_target for s in "abc"] == [True, True, False]
            assert preds.get("b").rle is None
            assert masks.area(preds.get("a").rle) == 16


def test_write_refuses_existing_and_png_no_target(tmp_path: Path) -> None:
    out = write_predictions({"a": np.zeros((2, 2))}, tmp_path / "p.jsonl")
    with pytest.raises(OutputExistsError, match="exists; pass overwrite=True"):
        write_predictions({"a": np.zeros((2, 2))}, out)
    write_predictions({"b": np.zeros((2, 2))}, out, overwrite=True)
    assert open_predictions(out).sample_ids() == ["b"]
    with pytest.raises(ValueError, match="sample x: no_target is true but the mask is not empty"):
        write_predictions(
            [{"sample_id": "x", "mask": np.ones((2, 2)), "no_target": True}], tmp_path / "d", "png"
        )
    assert not (tmp_path / "d").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["p.jsonl"]
    with pytest.raises(
        UnknownNameError, match="Expected prediction format to be one of png, jsonl, coco"
    ):
        write_predictions({}, tmp_path / "q", "tif")


def test_overwrite_replaces_only_an_output_of_the_same_kind(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("keep")
    with pytest.raises(OutputExistsError) as info:
        write_predictions({"a": np.zeros((2, 2))}, mine, "jsonl", overwrite=True)
    assert str(info.value) == f"{mine} is a folder, not a jsonl file; it is never replaced"
    with pytest.raises(OutputExistsError) as info:
        write_predictions({"a": np.zeros((2, 2))}, mine, "png", overwrite=True)
    assert str(info.value) == (
        f"{mine} holds more than PNG masks; choose another folder (it is never replaced)"
    )
    with pytest.raises(OutputExistsError) as info:
        write_predictions({"a": np.zeros((2, 2))}, mine / "thesis.tex", "png", overwrite=True)
    assert str(info.value) == (
        f"{mine / 'thesis.tex'} is a file, not a folder of PNG masks; it is never replaced"
    )
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.tex"]
    pngs = write_predictions({"a": np.zeros((2, 2))}, tmp_path / "pngs", "png")
    write_predictions({"b": np.ones((2, 2))}, pngs, "png", overwrite=True)
    assert sorted(p.name for p in pngs.iterdir()) == ["b.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine", "pngs"]


def test_png_modes(tmp_path: Path) -> None:
    m = np.zeros((6, 5), np.uint8)
    m[2:4, 1:3] = 1
    Image.fromarray(m * 37).save(tmp_path / "l.png")
    p = Image.fromarray(m, mode="L").convert("P")
    p.save(tmp_path / "p.png")
    for name in ("l.png", "p.png"):
        assert np.array_equal(read_png_mask(tmp_path / name), m.astype(bool)), name
    Image.fromarray(np.full((3, 3), 9, np.uint8)).save(tmp_path / "full.png")
    assert read_png_mask(tmp_path / "full.png").all()
    Image.fromarray(np.stack([m * 255] * 3, -1)).save(tmp_path / "rgb.png")
    with pytest.raises(
        MaskReadError, match=r"mode RGB is not a binary mask; save 1-bit, L or P PNGs"
    ):
        read_png_mask(tmp_path / "rgb.png")
    Image.fromarray(m.astype(np.uint16) * 1000).save(tmp_path / "i16.png")
    with pytest.raises(MaskReadError, match=r"mode I;16 is not a binary mask"):
        read_png_mask(tmp_path / "i16.png")
    three = m.copy()
    three[0, 0] = 2
    Image.fromarray(three).save(tmp_path / "three.png")
    with pytest.raises(MaskReadError) as exc:
        read_png_mask(tmp_path / "three.png")
    assert exc.value.kind == "not binary"
    assert str(exc.value) == "holds 3 values (0, 1, 2); a mask may hold only {0, v}"
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(MaskReadError) as exc:
        read_png_mask(tmp_path / "bad.png")
    assert exc.value.kind == "unreadable" and str(exc.value).startswith("cannot decode bad.png")
    Image.fromarray(m).save(tmp_path / "jpeg.png", format="JPEG")
    with pytest.raises(MaskReadError, match="jpeg.png is a JPEG file, not a PNG"):
        read_png_mask(tmp_path / "jpeg.png")


def test_jsonl_syntax_error_names_the_line(tmp_path: Path) -> None:
    good = json.dumps({"sample_id": "a", "mask": masks.encode(np.zeros((2, 2)))})
    f = tmp_path / "p.jsonl"
    f.write_text(good + "\n\n" + '{"sample_id": "b", "mask": \n')
    with pytest.raises(FormatError) as exc:
        open_predictions(f)
    assert str(exc.value) == (
        f"{f}:3: line is not valid JSON (Expecting value); each line must be one object"
    )
    f.write_text(good + "\n" + json.dumps([1]) + "\n")
    with pytest.raises(FormatError) as exc:
        open_predictions(f)
    assert str(exc.value) == (
        f"{f}:2: expected a JSON object, but got list (a COCO-results list belongs in a "
        ".json file, or pass --format coco)"
    )
    f.write_text(json.dumps({"mask": {}}) + "\n")
    with pytest.raises(
        FormatError, match=r"p.jsonl:1: expected a string 'sample_id', but got None"
    ):
        open_predictions(f)


def test_jsonl_per_sample_problems(tmp_path: Path) -> None:
    rle = masks.encode(np.zeros((2, 2)))
    lines = [
        {"sample_id": "a", "mask": rle},
        {"sample_id": "a", "mask": rle},
        {"sample_id": "b", "mask": {"size": [2, 2], "counts": "zz"}},
        {"sample_id": "c", "mask": rle, "no_target": "yes"},
        {"sample_id": "d"},
    ]
    f = tmp_path / "p.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines))
    preds = open_predictions(f)
    assert preds.problems == [
        ("a", "duplicate prediction on lines 1 and 2"),
        ("b", "line 3: RLE counts are corrupt (their runs do not cover height*width pixels)"),
        ("c", "line 4: no_target must be true or false, got 'yes'"),
        ("d", "line 5: no 'mask' (only allowed with \"no_target\": true)"),
    ]


def test_coco_union_above_threshold(tmp_path: Path) -> None:
    a = np.zeros((5, 5), np.uint8)
    a[0, :] = 1
    b = np.zeros((5, 5), np.uint8)
    b[:, 0] = 1
    c = np.zeros((5, 5), np.uint8)
    c[4, 4] = 1
    entries = [
        {"sample_id": "x", "segmentation": masks.encode(a), "score": 0.9},
        {"sample_id": "x", "segmentation": masks.encode(b), "score": 0.5},
        {"sample_id": "x", "segmentation": masks.encode(c), "score": 0.2},
        {"sample_id": "y", "segmentation": masks.encode(c), "score": 0.1},
        {"sample_id": "z", "segmentation": masks.encode(c)},
    ]
    f = tmp_path / "r.json"
    f.write_text(json.dumps(entries))
    preds = open_predictions(f, score_threshold=0.5)
    assert np.array_equal(masks.decode(preds.get("x").rle), a | b)
    assert masks.area(preds.get("y").rle) == 0 and preds.get("y").rle["size"] == [5, 5]
    assert masks.area(preds.get("z").rle) == 1
    assert masks.area(open_predictions(f, score_threshold=0.0).get("x").rle) == 10


def test_coco_errors(tmp_path: Path) -> None:
    f = tmp_path / "r.json"
    f.write_text('[\n{"sample_id": "x",\n "segmentation": }\n]')
    with pytest.raises(FormatError) as exc:
        open_predictions(f)
    assert str(exc.value) == f"{f}:3: not valid JSON (Expecting value)"
    f.write_text('{"sample_id": "x"}')
    with pytest.raises(FormatError, match="expected a JSON list of result entries, but got dict"):
        open_predictions(f)
    f.write_text('{"sample_id": "x"}\n{"sample_id": "y"}\n')
    with pytest.raises(FormatError) as exc:
        open_predictions(f)
    assert str(exc.value) == (
        f"{f}:2: not valid JSON (Extra data); it looks like JSON Lines: name it .jsonl or pass "
        "--format jsonl"
    )
    e1 = {"sample_id": "x", "segmentation": masks.encode(np.zeros((2, 2)))}
    e2 = {"sample_id": "x", "segmentation": masks.encode(np.zeros((3, 2)))}
    f.write_text(json.dumps([e1, e2, {**e1, "sample_id": "y", "score": "high"}]))
    preds = open_predictions(f)
    assert preds.problems == [
        ("y", "entry 2: score must be a number, got 'high'"),
        ("x", "its entries have different sizes [(2, 2), (3, 2)]"),
    ]


def test_detect_format_and_missing_path(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("")
    with pytest.raises(FormatError, match="cannot tell the prediction format"):
        open_predictions(tmp_path / "p.txt")
    with pytest.raises(FileNotFoundError, match="no such predictions file or folder"):
        open_predictions(tmp_path / "nope.jsonl")
    folder = tmp_path / "run"
    write_predictions({"a": np.zeros((2, 2))}, folder / "predictions.jsonl")
    assert open_predictions(folder).format == "jsonl"
    png = write_predictions({"a": np.zeros((2, 2))}, tmp_path / "pngs", "png")
    (png / "a.PNG").write_bytes((png / "a.png").read_bytes())
    (png / "notes.txt").write_text("ignored")
    preds = open_predictions(png)
    assert preds.sample_ids() == ["a"]
    assert preds.problems == [("a", "duplicate prediction: a.PNG and a.png")]
