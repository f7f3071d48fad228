"""`rrsis-bench score`, `compare`, `protocols`: output and one-line errors for every bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from data.scoring.data import GtCase, rewrite_mask, write_gt_dataset
from PIL import Image
from typer.testing import CliRunner

from rrsis_bench import masks
from rrsis_bench.cli import app
from rrsis_bench.predictions import write_predictions

runner = CliRunner()


def _box(h: int = 10, w: int = 12) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[2:6, 3:9] = 1
    return m


@pytest.fixture
def built(tmp_path: Path) -> Path:
    gts = [GtCase(f"s{k}", _box()) for k in range(3)]
    gts.append(GtCase("n0", np.zeros((10, 12), np.uint8), target_type="none", categories=()))
    return write_gt_dataset(tmp_path / "ds", gts)


def _good(tmp_path: Path) -> Path:
    items = {f"s{k}": _box() for k in range(3)} | {"n0": np.zeros((10, 12), np.uint8)}
    return write_predictions(items, tmp_path / "good.jsonl")


def _fails(args: list[str], expected: str) -> str:
    res = runner.invoke(app, args)
    assert res.exit_code == 1, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.output
    assert expected in lines[0], lines[0]
    assert lines[0].startswith("error: ")
    return lines[0]


def test_score_prints_every_metric_with_aliases(tmp_path: Path, built: Path) -> None:
    out = tmp_path / "r.json"
    per = tmp_path / "s.csv"
    res = runner.invoke(
        app,
        [
            "score",
            str(_good(tmp_path)),
            "--dataset",
            str(built),
            "--json",
            str(out),
            "--per-sample",
            str(per),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    text = res.stdout
    for needle in (
        "toy-scoring test: 4 samples, default protocol native",
        "overall IoU = cIoU",
        "mean IoU = gIoU",
        "precision@0.5 = P@0.5 = seg_acc_0.5",
        "no-target accuracy TP/(TP+FN)",
        "N-acc/T-acc (GRES convention, no-target = positive): TP 1, FN 0, FP 0, TN 3",
        "resolution: ground-truth mask size",
        "by target_type",
        "by size",
        # off a terminal the breakdown tables keep every column whole
        "┃ target_type ┃ n ┃   oIoU ┃   mIoU ┃ Pr@0.5 ┃",
        "┃  N-acc ┃  T-acc ┃",
    ):
        assert needle in text, needle
    d = json.loads(out.read_text())
    assert d["metrics"]["oiou"] == 100.0 and d["metrics"]["n_acc"] == 100.0
    sha = d["dataset"]["gt_sha256"]["test"]
    assert f"ΣI 72, ΣU 72; gt_sha256 test {sha}" in text
    assert "95% CI" in text
    assert (
        per.read_text()
        .splitlines()[0]
        .startswith("sample_id,split,target_type,category,size_bin,i,u")
    )


def test_score_compat_protocol_is_labelled(tmp_path: Path, built: Path) -> None:
    res = runner.invoke(
        app,
        ["score", str(_good(tmp_path)), "-d", str(built), "-p", "remotesam", "--bootstrap", "0"],
    )
    assert res.exit_code == 0, res.output
    assert "compat protocol lavt (as remotesam)" in res.stdout
    assert "resolution: 896x896, PIL NEAREST (aspect ratio not kept)" in res.stdout
    assert "note: compat protocol: reproduces yz93/LAVT-RIS test.py" in res.stdout
    assert "95% CI" not in res.stdout  # --bootstrap 0: no interval column


def test_corrupt_png(tmp_path: Path, built: Path) -> None:
    folder = write_predictions(
        {f"s{k}": _box() for k in range(3)} | {"n0": np.zeros((10, 12))}, tmp_path / "png", "png"
    )
    (folder / "s1.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    _fails(["score", str(folder), "-d", str(built)], "s1: unreadable: cannot decode s1.png")


def test_png_of_another_size(tmp_path: Path, built: Path) -> None:
    folder = write_predictions(
        {f"s{k}": _box() for k in range(3)} | {"n0": np.zeros((10, 12))}, tmp_path / "png", "png"
    )
    Image.fromarray(_box(11, 12) * 255).save(folder / "s2.png")
    _fails(
        ["score", str(folder), "-d", str(built)],
        "s2: wrong size: the prediction is 11x12 (height x width), expected 10x12",
    )


def test_rle_size_differs(tmp_path: Path, built: Path) -> None:
    items = {f"s{k}": _box() for k in range(3)} | {"n0": np.zeros((12, 10))}
    pj = write_predictions(items, tmp_path / "p.jsonl")
    _fails(
        ["score", str(pj), "-d", str(built)],
        "n0: wrong size: the prediction is 12x10 (height x width), expected 10x12",
    )


def test_jsonl_and_json_syntax_errors_name_the_line(tmp_path: Path, built: Path) -> None:
    pj = tmp_path / "p.jsonl"
    pj.write_text(json.dumps({"sample_id": "s0", "mask": masks.encode(_box())}) + "\n{oops\n")
    _fails(["score", str(pj), "-d", str(built)], f"{pj}:2: line is not valid JSON")
    pc = tmp_path / "p.json"
    pc.write_text('[\n {"sample_id": "s0",\n  "segmentation": ,\n}]')
    _fails(["score", str(pc), "-d", str(built)], f"{pc}:3: not valid JSON (Expecting value)")


def test_unknown_sample_ids(tmp_path: Path, built: Path) -> None:
    items = {f"s{k}": _box() for k in range(3)} | {"n0": np.zeros((10, 12)), "s99": _box()}
    pj = write_predictions(items, tmp_path / "p.jsonl")
    _fails(
        ["score", str(pj), "-d", str(built)],
        "(1 unknown sample id) (1 problems: s99: unknown sample id",
    )


def test_unknown_protocol_and_bad_resolution(tmp_path: Path, built: Path) -> None:
    good = str(_good(tmp_path))
    _fails(
        ["score", good, "-d", str(built), "-p", "lavtt"],
        "Expected protocol to be one of native, lavt",
    )
    _fails(
        ["score", good, "-d", str(built), "--resolution", "480"],
        "protocol native scores at the ground-truth size",
    )


def test_split_the_dataset_lacks_and_missing_dataset(tmp_path: Path, built: Path) -> None:
    good = str(_good(tmp_path))
    _fails(
        ["score", good, "-d", str(built), "--split", "val"],
        "the build has no split 'val'; it has test",
    )
    _fails(
        ["score", good, "-d", str(built), "--split", "dev-set"],
        "Expected split to be one of train, val, test",
    )
    _fails(["score", good, "-d", str(tmp_path / "nowhere")], "no such built dataset folder")
    _fails(
        ["score", str(tmp_path / "none.jsonl"), "-d", str(built)],
        "no such predictions file or folder",
    )


def test_problems_are_capped_at_ten_and_written_in_full(tmp_path: Path) -> None:
    ds = write_gt_dataset(tmp_path / "ds", [GtCase(f"s{k}", _box()) for k in range(30)])
    pj = write_predictions({"s0": _box()}, tmp_path / "p.jsonl")
    res = runner.invoke(app, ["score", str(pj), "-d", str(ds)])
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert lines[0] == (
        f"error: {pj}: predictions do not match the ground truth (29 missing); pass "
        "--allow-missing to score missing predictions as wrong (29 problems)"
    )
    assert lines[1:11] == [f"  s{k}: missing: no prediction for this sample" for k in range(1, 11)]
    assert lines[11:] == ["  … and 19 more (--problems FILE writes all of them)"]
    out = tmp_path / "problems.jsonl"
    res = runner.invoke(app, ["score", str(pj), "-d", str(ds), "--problems", str(out)])
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines()[-1] == f"  … and 19 more (all 29 written to {out})"
    assert [json.loads(x) for x in out.read_text().splitlines()] == [
        {"sample_id": f"s{k}", "problem": "missing: no prediction for this sample"}
        for k in range(1, 30)
    ]
    ok = runner.invoke(
        app,
        ["score", str(pj), "-d", str(ds), "--allow-missing", "-q", "--problems", str(out)],
    )
    assert ok.exit_code == 0
    assert "missing predictions scored as wrong: 29" in ok.stdout
    assert out.read_text() == ""  # a clean run leaves no stale problems behind


def test_a_folder_per_split_as_predict_writes_it(tmp_path: Path) -> None:
    from rrsis_bench.predictors import run_predictor

    gts = [GtCase(f"v{k}", _box(), split="val") for k in range(3)]
    gts += [GtCase(f"t{k}", _box()) for k in range(3)] + [GtCase("r0", _box(), split="train")]
    ds = write_gt_dataset(tmp_path / "ds", gts)
    preds = tmp_path / "preds" / "empty"
    run_predictor("empty", ds, ["val", "test"], preds)
    out = tmp_path / "r.json"
    res = runner.invoke(
        app, ["score", str(preds), "-d", str(ds), "-s", "val,test", "--json", str(out), "-q"]
    )
    assert res.exit_code == 0, res.output
    d = json.loads(out.read_text())
    assert d["dataset"]["n_samples"] == 6 and d["metrics"]["oiou"] == 0.0
    assert d["predictions"] == {"path": str(preds), "format": "jsonl"}
    one = runner.invoke(app, ["score", str(preds), "-d", str(ds), "-s", "test", "-q"])
    assert one.exit_code == 0, one.output
    assert "toy-scoring test: 3 samples" in one.stdout
    _fails(
        ["score", str(preds), "-d", str(ds), "-s", "train,val"],
        f"{preds}: holds one folder per split (val/predictions.jsonl, test/predictions.jsonl) "
        "but none for train: add train/ or score the splits it holds (--split val,test)",
    )


def test_compare_command(tmp_path: Path, built: Path) -> None:
    a = write_predictions(
        {f"s{k}": np.zeros((10, 12)) if k == 0 else _box() for k in range(3)}
        | {"n0": np.zeros((10, 12))},
        tmp_path / "a.jsonl",
    )
    out = tmp_path / "c.json"
    res = runner.invoke(
        app,
        [
            "compare",
            str(a),
            str(_good(tmp_path)),
            "-d",
            str(built),
            "--json",
            str(out),
            "--bootstrap",
            "100",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "per-sample IoU: 1 improved, 0 worse, 3 unchanged of 4" in res.stdout
    assert "95% CI of B − A" in res.stdout
    good = str(tmp_path / "good.jsonl")
    plain = runner.invoke(app, ["compare", str(a), good, "-d", str(built), "--bootstrap", "0"])
    assert plain.exit_code == 0, plain.output
    assert "B − A" in plain.stdout and "95% CI" not in plain.stdout
    assert "samples that changed most" in res.stdout
    d = json.loads(out.read_text())
    assert d["difference"]["miou"] == 25.0
    assert d["changed_most"] == [
        {
            "sample_id": "s0",
            "split": "test",
            "target_type": "single",
            "iou_a": 0.0,
            "iou_b": 1.0,
            "delta": 1.0,
        }
    ]


def test_per_sample_refuses_other_extensions(tmp_path: Path, built: Path) -> None:
    good = str(_good(tmp_path))
    for name, what in (("x.parquet", "as '.parquet'"), ("rows", "to a file without extension")):
        target = tmp_path / name
        _fails(
            ["score", good, "-d", str(built), "--per-sample", str(target)],
            f"{target}: cannot write per-sample rows {what}; name the file .csv, .json or .jsonl",
        )
        assert not target.exists()


def test_a_modified_build_is_refused_unless_no_verify(tmp_path: Path, built: Path) -> None:
    good = str(_good(tmp_path))
    out = tmp_path / "r.json"
    ok = runner.invoke(app, ["score", good, "-d", str(built), "--json", str(out), "-q"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(out.read_text())["dataset"]["verified"] is True
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    shard = rewrite_mask(copy, "test", "s1", np.zeros((10, 12), np.uint8))
    expected = f"{shard}: shard of split test was modified or damaged since the build"
    _fails(["score", good, "-d", str(copy)], expected)
    _fails(["compare", good, good, "-d", str(copy)], expected)
    res = runner.invoke(
        app, ["score", good, "-d", str(copy), "--no-verify", "--json", str(out), "-q"]
    )
    assert res.exit_code == 0, res.output
    d = json.loads(out.read_text())
    assert d["dataset"]["verified"] is False
    assert d["metrics"]["oiou"] == 200 / 3  # s1's pixels now count in ΣU only
    assert "(shards not verified: --no-verify)" in res.stdout
    cmp = runner.invoke(
        app,
        ["compare", good, good, "-d", str(copy), "--no-verify", "--json", str(out), "-q"],
    )
    assert cmp.exit_code == 0, cmp.output
    assert "ground truth shards not verified (--no-verify)" in cmp.stdout
    assert json.loads(out.read_text())["dataset"]["verified"] is False


def test_protocols_command() -> None:
    res = runner.invoke(app, ["protocols"])
    assert res.exit_code == 0
    for needle in (
        "lavt (compat; aliases: rmsin, remotesam, rs2sam2)",
        "gres (compat; aliases: rela)",
        "segearth-r1 (compat; aliases: lisa)",
        "rsrefseg (compat; aliases: rsrefseg2)",
        "Pr@t: IoU > t for t in 0.5, 0.6, 0.7, 0.8, 0.9, over all samples",
        "OpenCV INTER_NEAREST",
    ):
        assert needle in res.stdout, needle
    js = runner.invoke(app, ["protocols", "--json"])
    names = [p["name"] for p in json.loads(js.stdout)]
    assert names == ["native", "lavt", "lgce", "caris", "gres", "segearth-r1", "rsrefseg"]
