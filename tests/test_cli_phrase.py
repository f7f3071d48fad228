"""CLI tests of the phrase-file builders: build, validate --deep, -o options, error exits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from data.refsegrs.data import write_refsegrs
from data.risbench.data import write_risbench
from typer.testing import CliRunner

from rrsis_bench.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("cli_refsegrs")
    write_refsegrs(parent)
    return parent


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    parent = tmp_path_factory.mktemp("cli_refsegrs_clean")
    return write_refsegrs(parent, defects=False)


def test_build_refsegrs(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "built"
    result = runner.invoke(app, ["build", "refsegrs", "--raw", str(raw), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert "validation: 2 errors, 6 warnings, 15 info" in result.stderr
    assert (
        "train: 9 images, 9 expressions (9 single / 0 multi / 0 none), 0 objects" in result.stderr
    )
    assert (out / "manifest.json").is_file()


def test_build_existing_out_needs_overwrite(clean: Path, tmp_path: Path) -> None:
    out = tmp_path / "built"
    args = ["build", "refsegrs", "--raw", str(clean), "--out", str(out), "-q"]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert again.stderr.strip() == (
        f"error: {out} already holds a build; pass --overwrite to replace it"
    )
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0


def test_validate_deep_reports_and_exits_1_on_errors(raw: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = runner.invoke(
        app, ["validate", "refsegrs", "--raw", str(raw), "--deep", "--json", str(report), "-q"]
    )
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "validation: 2 errors, 6 warnings, 15 info"
    assert any(line.startswith("  error   line-malformed ×1") for line in lines)
    assert json.loads(report.read_text())["summary"] == {"error": 2, "warning": 6, "info": 15}


def test_validate_clean_release_exits_0_and_strict_1(clean: Path) -> None:
    result = runner.invoke(app, ["validate", "refsegrs", "--raw", str(clean), "--deep", "-q"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == "validation: 0 errors, 3 warnings, 14 info"
    strict = runner.invoke(app, ["validate", "refsegrs", "--raw", str(clean), "--strict", "-q"])
    assert strict.exit_code == 1


def test_build_strict_writes_nothing(clean: Path, tmp_path: Path) -> None:
    out = tmp_path / "strict"
    result = runner.invoke(
        app, ["build", "refsegrs", "--raw", str(clean), "--out", str(out), "--strict", "-q"]
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --strict: validation found 0 errors and 3 warnings")
    assert not out.exists()


def test_error_exits_are_one_line(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["build", "refsegrs", "--raw", str(tmp_path / "nope"), "-q"])
    assert missing.exit_code == 1
    assert missing.stderr.strip() == (
        f"error: {tmp_path / 'nope'}: the raw folder does not exist; pass --raw pointing at the "
        "downloaded refsegrs release (see `rrsis-bench datasets` for where to get it)"
    )
    (tmp_path / "output_phrase_train.txt").write_bytes(b"\x00\x00")
    (tmp_path / "output_phrase_val.txt").write_text("1 a\n")
    (tmp_path / "output_phrase_test.txt").write_text("2 b\n")
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    bad = runner.invoke(app, ["validate", "refsegrs", "--raw", str(tmp_path), "-q"])
    assert bad.exit_code == 1
    assert bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.output
    assert bad.stderr.startswith(f"error: {tmp_path / 'output_phrase_train.txt'}: holds NUL bytes")


def test_generic_phrase_with_options(tmp_path: Path) -> None:
    write_risbench(tmp_path, top="MyRelease", image_dir="img", mask_dir="gt")
    out = tmp_path / "built"
    args = ["build", "phrase", "--raw", str(tmp_path / "MyRelease"), "--out", str(out), "-q"]
    opts = ["-o", "image_dir=img", "-o", "mask_dir=gt", "-o", "dataset_name=my-set"]
    result = runner.invoke(app, [*args, *opts, "-o", "lexicon=ship,harbor"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["dataset"] == "my-set"
    assert manifest["options"]["image_dir"] == "img"
    assert manifest["options"]["lexicon"] == ["ship", "harbor"]
    assert manifest["counts"]["expressions"] == 9
    no_opts = runner.invoke(
        app, ["build", "phrase", "--raw", str(tmp_path), "--out", str(tmp_path / "o2"), "-q"]
    )
    assert no_opts.exit_code == 1
    assert "incomplete phrase-file dataset release, missing the image folder images/" in (
        no_opts.stderr
    )
    unknown = runner.invoke(app, [*args, "-o", "colour=red"])
    assert unknown.exit_code == 1
    assert unknown.stderr.startswith(
        "error: Expected phrase-file option to be one of dataset_name, title, image_dir"
    )
    malformed = runner.invoke(app, [*args, "-o", "image_dir"])
    assert malformed.exit_code == 1
    assert malformed.stderr.strip() == (
        "error: --option 'image_dir' is not KEY=VALUE (e.g. --option group=true)"
    )


def test_datasets_lists_phrase_family() -> None:
    result = runner.invoke(app, ["datasets", "--json"])
    assert result.exit_code == 0
    names = {d["name"]: d for d in json.loads(result.stdout)}
    assert names["refsegrs"]["published_counts"]["total"] == 4420
    assert names["risbench"]["published_counts"]["total"] == 52472
    assert names["phrase"]["licence"] == "unknown"
