from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from data.interop.data import write_built
from PIL import Image
from typer.testing import CliRunner

from rrsis_bench.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_built(tmp_path_factory.mktemp("cli"))


def test_export_command(built: Path, tmp_path: Path):
    out = tmp_path / "ex"
    r = runner.invoke(app, ["export", str(built), "--as", "rrsisd", "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    assert r.stdout.strip().endswith(str(out))
    assert "note: 3 no-target expressions left out: REFER refs need an annotation" in r.stderr
    assert "train: 3 images, 5 refs, 6 sentences" in r.stderr
    again = runner.invoke(app, ["export", str(built), "--as", "rrsisd", "--out", str(out)])
    assert again.exit_code == 1
    assert "already holds an rrsis-bench export; pass --overwrite to replace it" in again.stderr
    j = runner.invoke(
        app, ["export", str(built), "--format", "coco", "--out", str(tmp_path / "c"), "--json"]
    )
    assert j.exit_code == 0
    assert json.loads(j.stdout)["counts"]["val"] == {"images": 1, "refs": 2, "sentences": 2}
    none = runner.invoke(app, ["export", str(built), "--out", str(tmp_path / "n")])
    assert none.exit_code == 2


def test_publish_command_refuses_and_dry_runs(built: Path, tmp_path: Path):
    r = runner.invoke(
        app, ["publish", str(built), "--repo-id", "org/x", "--dry-run", str(tmp_path / "r")]
    )
    assert r.exit_code == 1
    assert "tiny: publishing refused: it is not a registered dataset" in r.stderr
    ok = runner.invoke(
        app,
        [
            "publish",
            str(built),
            "--repo-id",
            "org/x",
            "--dry-run",
            str(tmp_path / "r"),
            "--licence-confirmed",
            "tiny=CC-BY-4.0",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert (
        "tiny: licence CC-BY-4.0 (confirmed by you); train 3 images, val 1 images, test 2 images"
        in ok.stderr
    )
    assert (tmp_path / "r" / "tiny" / "train-00000-of-00001.parquet").is_file()


def test_show_sample_grid_and_report(built: Path, tmp_path: Path):
    pred = np.zeros((48, 64), np.uint8)
    pred[5:20, 5:30] = 255
    Image.fromarray(pred).save(tmp_path / "2.png")
    out = tmp_path / "s.png"
    r = runner.invoke(
        app, ["show", str(built), "--sample", "2", "--pred", str(tmp_path), "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert Image.open(out).size == (1000, 540)
    g = runner.invoke(
        app,
        ["show", str(built), "--grid", "5", "--split", "train", "--out", str(tmp_path / "g.png")],
    )
    assert g.exit_code == 0 and (tmp_path / "g.png").is_file()
    missing = runner.invoke(app, ["show", str(built), "--sample", "404", "--out", str(out)])
    assert missing.exit_code == 1
    assert f"no sample '404' in {built}" in missing.stderr
    both = runner.invoke(
        app, ["show", str(built), "--sample", "2", "--grid", "3", "--out", str(out)]
    )
    assert both.exit_code == 2
    report = {
        "schema": "rrsis-bench/score/1",
        "metrics": {"oiou": 50.0, "pr@0.5": 40.0, "pr@0.9": 1.0},
    }
    (tmp_path / "score.json").write_text(json.dumps(report))
    rep = runner.invoke(
        app, ["show", "--report", str(tmp_path / "score.json"), "--out", str(tmp_path / "r.png")]
    )
    assert rep.exit_code == 0 and (tmp_path / "r.png").is_file()
