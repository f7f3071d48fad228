from __future__ import annotations

import json
from pathlib import Path

from data.records import make_inputs, make_records
from typer.testing import CliRunner

from rrsis_bench import __version__
from rrsis_bench.cli import app
from rrsis_bench.store import write_dataset
from rrsis_bench.summary import dataset_summary
from rrsis_bench.validate import Report

runner = CliRunner()


def _built(tmp_path: Path) -> Path:
    return write_dataset(
        tmp_path / "built", make_records(tmp_path / "raw", n=8), make_inputs(), Report("toy")
    )


def test_version() -> None:
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.output.strip() == f"rrsis-bench {__version__}"


def test_rules_lists_every_rule_and_flag() -> None:
    res = runner.invoke(app, ["rules"])
    assert res.exit_code == 0
    for name in ("mask-empty", "tile-cross-split", "size_mismatch", "category_from_text"):
        assert name in res.output


def test_summary_of_a_build(tmp_path: Path) -> None:
    s = dataset_summary(_built(tmp_path))
    assert s["name"] == "toy"
    assert s["splits"]["train"] == {
        "images": 4,
        "expressions": 4,
        "objects": 4,
        "target_types": {"single": 4, "multi": 0, "none": 0},
        "mask_size": {"<0.1%": 0, "0.1-1%": 0, "1-10%": 4, ">=10%": 0, "none": 0},
    }
    assert s["categories"] == {"car": 8}
    assert s["languages"] == {"en": 8}


def test_info_command(tmp_path: Path) -> None:
    out = _built(tmp_path)
    res = runner.invoke(app, ["info", str(out)])
    assert res.exit_code == 0, res.output
    assert "toy" in res.output and "categories (1): car 8" in res.output
    res = runner.invoke(app, ["info", str(out), "--json"])
    assert json.loads(res.output)["splits"]["val"]["images"] == 2


def test_info_on_missing_dataset_is_one_line(tmp_path: Path) -> None:
    res = runner.invoke(app, ["info", str(tmp_path / "nothing")])
    assert res.exit_code == 1
    assert res.output.startswith("error: ")
    assert "no such built dataset folder" in res.output
    assert "Traceback" not in res.output


def test_build_unknown_dataset(tmp_path: Path) -> None:
    res = runner.invoke(app, ["build", "no-such-set", "--raw", str(tmp_path)])
    assert res.exit_code == 1
    assert "error: Expected dataset to be one of" in res.output
    assert "but got 'no-such-set'" in res.output


def test_datasets_lists_every_registered_builder() -> None:
    res = runner.invoke(app, ["datasets"])
    assert res.exit_code == 0, res.output
    for name in ("rrsis-d", "refsegrs", "nwpu-refer", "risbench", "rrsis-hr", "remotesam-270k"):
        assert f"{name} — " in res.output
    assert "  published  expressions: train 2,172, val 431, test 1,817, total 4,420" in res.output
    res = runner.invoke(app, ["datasets", "--json"])
    specs = {s["name"]: s for s in json.loads(res.output)}
    assert specs["rrsis-d"]["licence"] == "unknown" and not specs["rrsis-d"]["redistributable"]
    assert specs["refsegrs"]["licence"] == "CC-BY-4.0" and specs["refsegrs"]["redistributable"]
    assert specs["nwpu-refer"]["extra_counts"] == {"images": 15003, "targets": 49745}


def test_rules_keeps_bracketed_text_and_has_json() -> None:
    res = runner.invoke(app, ["rules"])
    assert "which box convention ([x,y,w,h] or [x1,y1,x2,y2]) fits this release" in res.output
    assert "the source box was [x1, y1, x2, y2] and was converted to [x, y, w, h]" in res.output
    data = json.loads(runner.invoke(app, ["rules", "--json"]).output)
    assert {
        "id": "mask-empty",
        "severity": "warning",
        "description": data["rules"][[r["id"] for r in data["rules"]].index("mask-empty")][
            "description"
        ],
    } in data["rules"]
    assert "empty_mask" in [f["name"] for f in data["flags"]]


def test_info_on_a_damaged_build_is_one_line(tmp_path: Path) -> None:
    out = _built(tmp_path)
    shard = out / "data/test-00000-of-00001.parquet"
    shard.write_bytes(b"not parquet")
    res = runner.invoke(app, ["info", str(out)])
    assert res.exit_code == 1
    assert res.output.startswith(f"error: {shard}: unreadable parquet shard (")
    assert "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_tables_are_not_cut_off_in_pipes() -> None:
    from rrsis_bench.cli.common import _console

    assert _console().width == 200  # pytest's stdout is not a terminal: rich would assume 80
