"""The generic phrase-file reader: options, id rules, mask and leakage checks."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rrsis_bench.builders import BuildResult, build, validate
from rrsis_bench.builders.phrase import PhraseBuilder, PhraseLayout, apply_options
from rrsis_bench.errors import OptionError, UnknownNameError
from rrsis_bench.store import open_dataset

Row = tuple[str, str, str, str, str]  # split, token, text, tile key, mask key

TILES = {k: np.full((6, 6, 3), v, np.uint8) for k, v in {"a": 10, "b": 20, "c": 30}.items()}
MASKS: dict[str, np.ndarray] = {
    "m1": np.pad(np.full((2, 2), 255, np.uint8), 2),
    "m2": np.pad(np.full((4, 4), 255, np.uint8), 1),
    "ones": np.pad(np.ones((2, 2), np.uint8), 2),
    "full": np.full((6, 6), 255, np.uint8),
    "small": np.pad(np.full((2, 2), 255, np.uint8), 1),  # 4×4, smaller than the 6×6 tile
}


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def make_release(
    root: Path, rows: list[Row], extra_lines: dict[str, list[str]] | None = None
) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    lines: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for split, token, text, tile, mask in rows:
        name = token if "." in token else token + ".png"
        (root / "images" / name).write_bytes(_png(TILES[tile]))
        (root / "masks" / name).write_bytes(_png(MASKS[mask]))
        lines[split].append(f"{token} {text}")
    for split, extra in (extra_lines or {}).items():
        lines[split] += extra
    for split, rows_ in lines.items():
        if rows_:
            text = "\n".join(rows_) + "\n"
            (root / f"output_phrase_{split}.txt").write_text(text, encoding="utf-8")
    return root


def check(root: Path, **options: object) -> BuildResult:
    """Validate a release written by make_release (only the splits it has)."""
    splits = [s for s in ("train", "val", "test") if (root / f"output_phrase_{s}.txt").is_file()]
    return validate("phrase", root, splits=",".join(splits), **options)


def _findings(result: BuildResult, rule: str) -> list[str]:
    return [f.message for f in result.report.sorted_findings() if f.rule == rule]


def test_apply_options() -> None:
    base = PhraseLayout(title="x")
    layout = apply_options(
        base,
        {
            "image_dir": "img",
            "mask_dir": "gt",
            "phrase_file": "{split}_phrases.txt",
            "splits": "train,validation",
            "image_ext": "jpg",
            "mask_threshold": "0",
            "lexicon": "car, ship ,",
            "id_pattern": r"[a-z]+\d*",
        },
    )
    assert layout.image_dirs == ("img",) and layout.mask_dirs == ("gt",)
    assert dict(layout.phrase_files) == {
        "train": ("train_phrases.txt",),
        "val": ("val_phrases.txt",),
    }
    assert (layout.image_ext, layout.mask_ext, layout.threshold) == (".jpg", "", 0)
    assert layout.lexicon == ("car", "ship")
    only_test = apply_options(base, {"splits": "test"})
    assert dict(only_test.phrase_files) == {"test": ("output_phrase_test.txt",)}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"phrase_file": "phrases.txt"},
            "Expected option phrase_file to contain '{split}', but got 'phrases.txt'",
        ),
        (
            {"mask_threshold": "half"},
            "Expected option mask_threshold to be an integer, but got 'half'",
        ),
        ({"id_pattern": "("}, "Expected option id_pattern to be a regular expression, but got '('"),
    ],
)
def test_bad_option_values(options: dict[str, str], message: str) -> None:
    with pytest.raises(OptionError) as exc:
        PhraseBuilder(**options)
    assert str(exc.value).startswith(message)


def test_unknown_option_and_split() -> None:
    with pytest.raises(UnknownNameError, match="Expected phrase-file option to be one of"):
        PhraseBuilder(imagedir="x")
    with pytest.raises(UnknownNameError, match="Expected split to be one of train, val, test"):
        PhraseBuilder(splits="train,holdout")


def test_ids_in_several_splits_keep_the_evaluation_split(tmp_path: Path) -> None:
    make_release(
        tmp_path,
        [("train", "7", "a car", "a", "m1"), ("test", "9", "a ship", "b", "m2")],
        {"train": ["9 a ship", "7 a truck", "7 a car"], "val": ["7 a car"]},
    )
    result = check(tmp_path)
    assert {s: c["expressions"] for s, c in result.counts.items()} == {"val": 1, "test": 1}
    assert _findings(result, "id-duplicate") == [
        "output_phrase_train.txt:1: id '7' is also in val (output_phrase_val.txt:1); kept in val only",
        "output_phrase_train.txt:3: id '7' is also in val (output_phrase_val.txt:1); kept in val only",
        "output_phrase_train.txt:4: id '7' is also in val (output_phrase_val.txt:1); kept in val only",
        "output_phrase_train.txt:2: id '9' is also in test (output_phrase_test.txt:1); kept in test only",
    ]


def test_same_split_duplicates_and_sample_id_collision(tmp_path: Path) -> None:
    make_release(
        tmp_path,
        [("train", "Ab.png", "one", "a", "m1"), ("train", "ab.png", "two", "b", "m2")],
        {"train": ["Ab.png one", "Ab.png three"]},
    )
    result = check(tmp_path)
    assert _findings(result, "line-duplicate") == [
        "output_phrase_train.txt:3: repeats line 1 (Ab 'one'); kept once"
    ]
    assert _findings(result, "id-duplicate") == [
        "output_phrase_train.txt:4: id 'Ab' already on line 1 with another expression ('one'); "
        "this line is skipped",
        "output_phrase_train.txt:2: id 'ab' gives the sample id 'ab' of id 'Ab'; this line is skipped",
    ]
    assert [r.image_id for r in result.records] == ["Ab"]
    assert result.records[0].expressions[0].sample_id == "ab"


def test_mask_checks_size_full_and_low_values(tmp_path: Path) -> None:
    make_release(
        tmp_path,
        [
            ("train", "1", "all of it", "a", "full"),
            ("train", "2", "tiny", "b", "small"),
            ("val", "3", "ones", "c", "ones"),
        ],
    )
    result = check(tmp_path)
    flags = {r.image_id: r.expressions[0].flags for r in result.records}
    assert flags == {"1": ["full_mask"], "2": ["size_mismatch"], "3": ["empty_mask"]}
    assert _findings(result, "mask-size-mismatch") == [
        "masks/2.png: mask is 4×4, image is 6×6; the mask is kept at its own size"
    ]
    assert result.records[1].expressions[0].mask["size"] == [4, 4]
    assert _findings(result, "mask-full") == ["masks/1.png: the mask covers the whole image"]
    assert _findings(result, "mask-empty") == [
        "masks/3.png: empty mask for 'ones' (its nonzero values {1} are all ≤ 50; if they are "
        "foreground, build with -o mask_threshold=0)"
    ]
    lowered = check(tmp_path, mask_threshold=0)
    assert lowered.records[2].expressions[0].area == 4
    assert lowered.records[2].expressions[0].flags == []


def test_duplicate_and_ambiguous_expressions_on_one_tile(tmp_path: Path) -> None:
    make_release(
        tmp_path,
        [
            ("train", "1", "the car", "a", "m1"),
            ("train", "2", "the car", "a", "m1"),
            ("train", "3", "the car", "a", "m2"),
            ("train", "4", "a vehicle", "a", "m2"),
        ],
    )
    result = check(tmp_path)
    flags = {r.image_id: r.expressions[0].flags for r in result.records}
    assert flags == {
        "1": ["ambiguous_expression", "duplicate_expression", "duplicate_tile"],
        "2": ["ambiguous_expression", "duplicate_expression", "duplicate_tile"],
        "3": ["ambiguous_expression", "duplicate_tile", "synonym_group"],
        "4": ["duplicate_tile", "synonym_group"],
    }
    assert _findings(result, "expression-duplicate") == [
        "ids 1, 2 repeat 'the car' with one tile and one mask"
    ]
    assert _findings(result, "expression-ambiguous") == [
        "'the car' names 2 different masks on one tile: ids 1, 2, 3"
    ]
    assert _findings(result, "synonym-group") == [
        "2 expressions, one tile and one mask: 3 'the car'; 4 'a vehicle'"
    ]


def test_text_problems_are_findings_not_fatal(tmp_path: Path) -> None:
    make_release(
        tmp_path,
        [("train", "1", "the café", "a", "m1")],
        {"val": ["2", "5 fine"], "test": ["3 \u00a0x"]},
    )
    result = check(tmp_path)
    assert _findings(result, "text-empty") == [
        "output_phrase_val.txt:1: id '2' has no expression after it"
    ]
    assert (
        _findings(result, "text-noise")[0] == "output_phrase_train.txt:1: non-ASCII in 'the café'"
    )
    assert result.records[0].expressions[0].language == "en"


def test_generic_build_records_options_and_name(tmp_path: Path) -> None:
    raw = make_release(tmp_path / "raw", [("train", "1", "a car", "a", "m1")])
    out = tmp_path / "out"
    build("phrase", raw, out, dataset_name="mini", title="Mini set", lexicon="car", splits="train")
    ds = open_dataset(out)
    assert ds.manifest["dataset"] == "mini"
    assert ds.manifest["options"] == {
        "dataset_name": "mini",
        "id_pattern": None,
        "image_dir": "images",
        "lexicon": ["car"],
        "mask_dir": "masks",
        "mask_rule": "value > 50",
        "phrase_files": {"train": "output_phrase_train.txt"},
        "splits": "train",
        "title": "Mini set",
    }
    assert (out / "README.md").read_text(encoding="utf-8").count("# Mini set") == 1
    row = next(ds.iter_rows("train", columns=["expressions"]))
    assert row["expressions"][0]["categories"] == ["car"]
