"""The demo end to end on a reduced size: every promised file, exact floor scores, CLI."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from typer.testing import CliRunner

pytest.importorskip("rrsis_bench.scoring", reason="the scorer is not in this install")
pytest.importorskip("rrsis_bench.viz", reason="the visualisation module is not in this install")
pytest.importorskip("rrsis_bench.builders.inspect", reason="inspect is not in this install")
pytest.importorskip(
    "rrsis_bench.builders.nwpu_refer", reason="the NWPU-Refer builder is not in this install"
)

from rrsis_bench.cli import app
from rrsis_bench.demo import run_demo
from rrsis_bench.errors import OutputExistsError

PREDICTORS = ("empty", "full-image", "category-prior")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo-output"
    return run_demo(out, images=12, size=96, num_proc=1, n_boot=20, samples=4)


def test_every_promised_file(demo):
    out = demo.out
    expected = [
        "raw/new_refs(unc).p",
        "raw/new_instances.json",
        "inspect.txt",
        "built/manifest.json",
        "built/validation.json",
        "built/README.md",
        "validation.txt",
        "report/scores.md",
        "report/scores.json",
        "report/contact_sheet.png",
        "demo.json",
    ]
    expected += [
        f"predictions/{p}/{s}/predictions.jsonl" for p in PREDICTORS for s in ("val", "test")
    ]
    expected += [f"report/plots/{p}-{s}.png" for p in PREDICTORS for s in ("val", "test")]
    missing = [f for f in expected if not (out / f).is_file()]
    assert missing == []
    assert sorted(p.name for p in (out / "report" / "plots").iterdir()) == sorted(
        f"{p}-{s}.png" for p in PREDICTORS for s in ("val", "test")
    )
    assert Image.open(out / "report" / "contact_sheet.png").format == "PNG"
    marker = json.loads((out / "demo.json").read_text())
    assert marker["schema"] == "rrsis-bench/demo/1"
    assert set(marker["timings_s"]) == {
        "generate",
        "inspect",
        "build",
        "validate",
        "predict",
        "score",
        "report",
    }
    for label, rel in marker["files"].items():
        assert (out / rel).exists(), label
    assert (
        "NWPU-Refer" in (out / "inspect.txt").read_text()
        or "new_refs" in (out / "inspect.txt").read_text()
    )
    assert (out / "validation.txt").read_text().startswith("validation: 0 errors, 0 warnings")


def test_floor_scores_are_exact(demo):
    for split in ("val", "test"):
        c = demo.counts[split]
        empty = demo.scores[split]["empty"]["metrics"]
        full = demo.scores[split]["full-image"]["metrics"]
        assert empty["oiou"] == 0.0
        assert empty["miou"] == pytest.approx(100.0 * c["none"] / c["expressions"])
        # N-acc and T-acc exist only where a split has no-target samples
        has_none = c["none"] > 0
        assert (empty["n_acc"], empty["t_acc"]) == ((100.0, 0.0) if has_none else (None, None))
        assert (full["n_acc"], full["t_acc"]) == ((0.0, 100.0) if has_none else (None, None))
        for p in PREDICTORS:
            rep = demo.scores[split][p]
            assert rep["schema"] == "rrsis-bench/score/1"
            assert rep["dataset"]["n_samples"] == c["expressions"]
            assert set(rep["breakdowns"]) >= {"target_type", "category"}
            assert rep["ci"]["n_boot"] == 20
    assert any(demo.counts[s]["none"] > 0 for s in ("val", "test"))


def test_report_tables(demo):
    md = (demo.out / "report" / "scores.md").read_text()
    for header in ("## val", "## test", "### test: by target type", "### test: by category"):
        assert header in md
    assert (
        "| predictor | n | oIoU (cIoU) | mIoU (gIoU) | Pr@0.5 | Pr@0.7 | Pr@0.9 | N-acc | T-acc |"
        in md
    )
    payload = json.loads((demo.out / "report" / "scores.json").read_text())
    assert set(payload) == {"category_prior", "scores"}
    assert set(payload["scores"]) == {"val", "test"}
    assert set(payload["scores"]["test"]) == set(PREDICTORS)
    assert 1 <= payload["category_prior"]["level"] <= 255


def test_rerun_replaces_a_demo_but_never_another_folder(tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    with pytest.raises(OutputExistsError, match="is not a demo folder"):
        run_demo(other, images=10, size=64, num_proc=1, n_boot=0, samples=2)
    assert (other / "notes.txt").read_text() == "keep"
    (tmp_path / "file").write_text("keep")
    with pytest.raises(OutputExistsError) as info:
        run_demo(tmp_path / "file", images=10, size=64, num_proc=1, n_boot=0, samples=2)
    assert str(info.value) == (
        f"{tmp_path / 'file'} exists and is not a folder; choose another --out "
        "(it is never replaced)"
    )
    assert (tmp_path / "file").read_text() == "keep"


def test_cli_demo_refuses_another_folder_before_printing_anything(tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    res = CliRunner().invoke(app, ["demo", "--out", str(other), "-q"])
    assert res.exit_code == 1
    assert res.stdout == ""
    assert res.stderr == (
        f"error: {other} exists and is not a demo folder (no demo.json); choose another --out\n"
    )
    assert [p.name for p in other.iterdir()] == ["notes.txt"]


def test_cli_demo_replaces_an_earlier_demo(tmp_path):
    out = tmp_path / "d"
    out.mkdir()
    (out / "demo.json").write_text("{}")  # an earlier demo
    (out / "stale.txt").write_text("old")
    args = [
        "demo",
        "--out",
        str(out),
        "--images",
        "10",
        "--size",
        "64",
        "--num-proc",
        "1",
        "--n-boot",
        "0",
        "-q",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "contact sheet" in res.stdout and str(out / "report" / "contact_sheet.png") in res.stdout
    assert not (out / "stale.txt").exists()
    assert json.loads((out / "demo.json").read_text())["schema"] == "rrsis-bench/demo/1"
    assert [p.name for p in tmp_path.iterdir()] == ["d"]  # the earlier demo set aside was removed
