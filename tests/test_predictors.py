"""Reference predictors on a tiny dataset whose answers are computed by hand."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from data.predictors.data import CORNER, SIZE, build
from typer.testing import CliRunner

from rrsis_bench import masks
from rrsis_bench.cli import app
from rrsis_bench.errors import DatasetNotFoundError, OutputExistsError, UnknownNameError
from rrsis_bench.lexicon import CategoryLexicon
from rrsis_bench.predictors import (
    CategoryPrior,
    predict_empty,
    predict_full_image,
    run_predictor,
    write_jsonl,
)

CAR_6 = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]], dtype=np.uint8)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def prior(tiny):
    return CategoryPrior.fit(tiny, grid=SIZE)


def test_priors_are_mean_training_masks(prior):
    assert prior.counts == {"car": 2, "ship": 1}
    assert prior.priors["car"].tolist() == [
        [1.0, 1.0, 0.5, 0.5],
        [0.5, 0.5, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
    ]
    assert prior.priors["ship"].tolist() == CORNER.astype(float).tolist()
    # 0.5 quantises to level 128 (round half to even of 127.5), 1 to 255
    assert sorted(np.unique(prior.levels("car", 4, 4)).tolist()) == [0, 128, 255]


def test_threshold_maximises_validation_oiou(prior):
    # levels 1..128 predict 6 car pixels: v1 I=5 U=6, v2 I=1 U=2, v3 (no category) I=0 U=1,
    # v4 (no target, car predicted) U=6 -> 6/15 = 40 %.  Levels 129..255 predict 2 car pixels:
    # v1 I=2 U=5, v2 I=1 U=2, v3 U=1, v4 U=2 -> 3/10 = 30 %.  Ties go to the lowest level.
    assert prior.level == 1
    assert prior.val_oiou == pytest.approx(40.0)
    assert prior.val_curve[0] == pytest.approx(40.0)
    assert prior.val_curve[127] == pytest.approx(40.0)
    assert prior.val_curve[128] == pytest.approx(30.0)
    assert prior.val_curve[254] == pytest.approx(30.0)
    assert len(prior.val_curve) == 255


def test_category_prior_predictions(tiny, prior):
    preds = {p.sample_id: p for p in prior.predict(tiny, "test")}
    assert sorted(preds) == ["x1", "x2", "x3", "x4"]
    assert (masks.decode(preds["x1"].mask) == CAR_6).all() and not preds["x1"].no_target
    assert (masks.decode(preds["x2"].mask) == CORNER).all() and not preds["x2"].no_target
    assert masks.area(preds["x3"].mask) == 0 and preds["x3"].no_target  # "boat": no category
    assert (masks.decode(preds["x4"].mask) == CORNER).all()  # "red ship" names a ship
    assert preds["x1"].mask["size"] == [SIZE, SIZE]


def test_empty_and_full_image(tiny):
    empty = list(predict_empty(tiny, "val"))
    full = list(predict_full_image(tiny, "val"))
    assert [p.sample_id for p in empty] == ["v1", "v2", "v3", "v4"]
    assert all(masks.area(p.mask) == 0 and p.no_target for p in empty)
    assert all(masks.area(p.mask) == SIZE * SIZE and not p.no_target for p in full)


def test_run_predictor_writes_jsonl(tmp_path, tiny):
    paths = run_predictor("category-prior", tiny, ["val", "test"], tmp_path / "cp")
    assert sorted(paths) == ["test", "val"]
    lines = paths["test"].read_text().splitlines()
    rows = [json.loads(x) for x in lines]
    assert [r["sample_id"] for r in rows] == ["x1", "x2", "x3", "x4"]
    assert rows[2] == {"mask": masks.empty(4, 4), "no_target": True, "sample_id": "x3"}
    assert set(rows[0]) == {"sample_id", "mask", "no_target"}
    assert write_jsonl([], tmp_path / "none" / "p.jsonl") == 0


def test_errors(tmp_path, tiny):
    with pytest.raises(
        UnknownNameError,
        match="Expected predictor to be one of empty, full-image, category-prior, but got 'oracle'",
    ):
        run_predictor("oracle", tiny, ["val"], tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(tiny, copy)
    m = json.loads((copy / "manifest.json").read_text())
    del m["splits"]["train"]
    (copy / "manifest.json").write_text(json.dumps(m))
    needs = (
        f"{copy}: the category-prior predictor needs a 'train' split (to average its masks) "
        "and a 'val' split (to choose its threshold), but the build has no 'train' split "
        "(it has val, test); use the empty or full-image predictor, which need neither"
    )
    with pytest.raises(DatasetNotFoundError) as info:
        CategoryPrior.fit(copy)
    assert str(info.value) == needs
    with pytest.raises(DatasetNotFoundError) as info:
        run_predictor("category-prior", copy, ["test"], tmp_path / "out")
    assert str(info.value) == needs
    assert not (tmp_path / "out").exists()
    m["splits"] = {"train": m["splits"]["test"]}
    (copy / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(DatasetNotFoundError) as info:
        CategoryPrior.fit(copy, val_split="validation")
    assert "and a 'validation' split (to choose its threshold), but the build has no " + (
        "'validation' split (it has train);"
    ) in str(info.value)
    res = CliRunner().invoke(
        app, ["predict", "category-prior", str(copy), "--out", str(tmp_path / "x")]
    )
    assert res.exit_code == 1
    assert res.stderr.strip() == (
        f"error: {copy}: the category-prior predictor needs a 'train' split (to average its "
        "masks) and a 'val' split (to choose its threshold), but the build has no 'val' split "
        "(it has train); use the empty or full-image predictor, which need neither"
    )


def test_lexicon_finds_heads_in_english_and_chinese():
    lex = CategoryLexicon.fit(
        [("the runway", ["airplaneroad"])] * 3
        + [("跑道", ["airplaneroad"])] * 3
        + [("the ship", ["ship"]), ("船", ["ship"])] * 3,
        min_support=3,
    )
    # "the" occurs in 6 English texts, 3 of them about the runway: precision 0.5, not learned;
    # "therunway", "跑道" and "theship" contain shorter forms of their category: not kept
    assert lex.learned == {
        "runway": "airplaneroad",
        "跑": "airplaneroad",
        "道": "airplaneroad",
        "船": "ship",
    }
    assert lex.find("the ship to the left of the runway") == "ship"
    assert lex.find("跑道左边的船") == "ship"
    assert lex.find("船左边的跑道") == "airplaneroad"
    assert lex.find("the storage tanks") is None
    names = CategoryLexicon.from_names(["storagetank", "Expressway-Service-area"])
    assert names.find("all storage tanks") == "storagetank"
    assert names.find("The expressway service area") == "Expressway-Service-area"


def test_cli_predict(tmp_path, tiny):
    runner = CliRunner()
    res = runner.invoke(
        app, ["predict", "category-prior", str(tiny), "--out", str(tmp_path / "p"), "--grid", "4"]
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.split() == [
        str(tmp_path / "p" / "val" / "predictions.jsonl"),
        str(tmp_path / "p" / "test" / "predictions.jsonl"),
    ]
    assert (
        "category-prior: 2 categories, threshold 0.004 (level 1/255), val oIoU 40.0" in res.stderr
    )
    bad = runner.invoke(app, ["predict", "oracle", str(tiny), "--out", str(tmp_path / "q")])
    assert bad.exit_code == 1
    assert bad.stderr.strip() == (
        "error: Expected predictor to be one of empty, full-image, category-prior, but got 'oracle'"
    )
    missing = runner.invoke(
        app, ["predict", "empty", str(tmp_path / "nothing"), "--out", str(tmp_path / "r")]
    )
    assert missing.exit_code == 1
    assert "no such built dataset folder and no registered dataset of this name" in missing.stderr


def test_write_jsonl_leaves_nothing_half_written(tmp_path, tiny):
    def broken():
        yield from predict_empty(tiny, "val")
        raise RuntimeError("disk on fire")

    target = tmp_path / "p" / "predictions.jsonl"
    target.parent.mkdir()
    target.write_text("earlier\n")
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_jsonl(broken(), target, overwrite=True)
    assert target.read_text() == "earlier\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["predictions.jsonl"]
    with pytest.raises(OutputExistsError) as info:
        write_jsonl(predict_empty(tiny, "val"), target)
    assert str(info.value) == (f"{target} exists; pass overwrite=True (--overwrite) to replace it")
    assert target.read_text() == "earlier\n"


def test_cli_predict_refuses_existing_predictions_without_overwrite(tmp_path, tiny):
    out = tmp_path / "pclob"
    (out / "val").mkdir(parents=True)
    mine = out / "val" / "predictions.jsonl"
    mine.write_text("my model\n")
    (out / "notes.txt").write_text("keep")
    args = ["predict", "full-image", str(tiny), "--out", str(out), "--split", "test,val"]
    res = CliRunner().invoke(app, [*args, "-q"])
    assert res.exit_code == 1
    assert res.stdout == ""
    assert res.stderr.strip() == (
        f"error: {mine} already exists; pass --overwrite to replace the predictions of these "
        "splits, or choose another --out"
    )
    assert mine.read_text() == "my model\n"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "notes.txt",
        "val",
        "val/predictions.jsonl",
    ]  # nothing was written, not even the test split
    res = CliRunner().invoke(app, [*args, "--overwrite", "-q"])
    assert res.exit_code == 0, res.output
    assert res.stdout.split() == [str(out / "test" / "predictions.jsonl"), str(mine)]
    rows = [json.loads(x) for x in mine.read_text().splitlines()]
    assert [r["sample_id"] for r in rows] == ["v1", "v2", "v3", "v4"]
    assert (out / "notes.txt").read_text() == "keep"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "notes.txt",
        "test",
        "test/predictions.jsonl",
        "val",
        "val/predictions.jsonl",
    ]


def test_run_predictor_checks_every_target_first(tmp_path, tiny):
    out = tmp_path / "p"
    for split in ("val", "test"):
        (out / split).mkdir(parents=True)
        (out / split / "predictions.jsonl").write_text(split)
    with pytest.raises(OutputExistsError) as info:
        run_predictor("empty", tiny, ["validation", "test"], out)
    assert str(info.value) == (
        f"{out / 'val' / 'predictions.jsonl'}, {out / 'test' / 'predictions.jsonl'} already "
        "exist; pass --overwrite to replace the predictions of these splits, or choose another --out"
    )
    (out / "test" / "predictions.jsonl").unlink()
    (out / "test" / "predictions.jsonl").mkdir()
    with pytest.raises(OutputExistsError) as info:
        run_predictor("empty", tiny, ["test"], out, overwrite=True)
    assert str(info.value) == (
        f"{out / 'test' / 'predictions.jsonl'} exists and is not a file; choose another --out "
        "(it is never replaced)"
    )
    (tmp_path / "file").write_text("mine")
    with pytest.raises(OutputExistsError) as info:
        run_predictor("empty", tiny, ["test"], tmp_path / "file", overwrite=True)
    assert str(info.value) == (
        f"{tmp_path / 'file'} exists and is not a folder; choose another --out "
        "(it is never replaced)"
    )
    assert (out / "val" / "predictions.jsonl").read_text() == "val"
    assert (tmp_path / "file").read_text() == "mine"


def test_overwrite_renames_over_the_old_file_which_is_never_missing(tmp_path, tiny, monkeypatch):
    from rrsis_bench.predictions import writer

    target = tmp_path / "val" / "predictions.jsonl"
    target.parent.mkdir()
    target.write_text("earlier\n")
    seen: list[str] = []
    real_replace = writer.os.replace

    def replace(src, dst):
        seen.append(Path(dst).read_text())  # the old file is still there at the rename
        real_replace(src, dst)

    monkeypatch.setattr(writer.os, "replace", replace)
    run_predictor("empty", tiny, ["val"], tmp_path, overwrite=True)
    assert seen == ["earlier\n"]
    assert len(target.read_text().splitlines()) == 4
    assert sorted(p.name for p in target.parent.iterdir()) == ["predictions.jsonl"]


# Scores on the test split, computed by hand (native protocol):
#   x1 "all cars"     GT top row (4 px)   x2 "the ship"  GT corner (1 px)
#   x3 "the boat"     GT 1 px, targeted   x4 "the red ship"  no target
# category-prior: x1 I=4 U=6, x2 I=1 U=1, x3 says no target (I=0 U=1), x4 predicts the corner
#   (wrong, U=1): oIoU 5/9, mIoU (2/3 + 1 + 0 + 0) / 4, Pr@0.5 2/4, Pr@0.7 1/4, N-acc 0/1,
#   T-acc 2/3.  full-image: I = 4, 1, 1, 0 and U = 16 each: oIoU 6/64 = mIoU.
#   empty: U = 4 + 1 + 1 (+ 0, x4 right): oIoU 0, mIoU 1/4, N-acc 1/1, T-acc 0/3.
HAND = {
    "category-prior": {
        "oiou": 500 / 9,
        "miou": 100 * (2 / 3 + 1) / 4,
        "pr@0.5": 50.0,
        "pr@0.7": 25.0,
        "pr@0.9": 25.0,
        "n_acc": 0.0,
        "t_acc": 200 / 3,
    },
    "full-image": {"oiou": 9.375, "miou": 9.375, "pr@0.5": 0.0, "n_acc": 0.0, "t_acc": 100.0},
    "empty": {"oiou": 0.0, "miou": 25.0, "pr@0.5": 25.0, "n_acc": 100.0, "t_acc": 0.0},
}


@pytest.mark.parametrize("name", sorted(HAND))
def test_predictions_score_to_hand_computed_values(tmp_path, tiny, prior, name):
    scoring = pytest.importorskip("rrsis_bench.scoring")
    paths = run_predictor(name, tiny, ["test"], tmp_path / name, prior=prior)
    report = scoring.score(paths["test"], tiny, "test", "native", n_boot=0)
    for key, want in HAND[name].items():
        assert report.metrics[key] == pytest.approx(want), key
