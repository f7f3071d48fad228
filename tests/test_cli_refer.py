"""CLI: build, validate and inspect for the REFER family, and their error exits."""

from __future__ import annotations

import json
from pathlib import Path

from data.nwpu.data import make_nwpu_release
from data.rrsisd.data import make_rrsisd_release
from typer.testing import CliRunner

from rrsis_bench.cli import app

runner = CliRunner()


def test_build_rrsisd(tmp_path: Path) -> None:
    make_rrsisd_release(tmp_path / "raw")
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["build", "rrsis-d", "--raw", str(tmp_path / "raw"), "--out", str(out), "-q"]
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().endswith(str(out))
    assert "train: 5 images, 5 expressions (5 single / 0 multi / 0 none), 5 objects" in res.output
    assert "validation: 1 errors, 5 warnings, 15 info" in res.output
    again = runner.invoke(
        app, ["build", "rrsis-d", "--raw", str(tmp_path / "raw"), "--out", str(out)]
    )
    assert again.exit_code == 1
    assert (
        again.output.strip()
        == f"error: {out} already holds a build; pass --overwrite to replace it"
    )


def test_build_nwpu_with_option(tmp_path: Path) -> None:
    make_nwpu_release(tmp_path / "raw")
    res = runner.invoke(
        app,
        [
            "build",
            "nwpu-refer",
            "--raw",
            str(tmp_path / "raw"),
            "--out",
            str(tmp_path / "out"),
            "-o",
            "group=false",
            "--num-proc",
            "2",
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "train: 2 images, 12 expressions (10 single / 0 multi / 2 none), 6 objects" in res.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["options"]["group"] is False


def test_validate_exit_codes(tmp_path: Path) -> None:
    make_rrsisd_release(tmp_path / "raw")
    res = runner.invoke(
        app,
        ["validate", "rrsis-d", "--raw", str(tmp_path / "raw"), "--json", str(tmp_path / "v.json")],
    )
    assert res.exit_code == 1  # the truncated JPEG is an error finding
    assert "error   image-unreadable ×1" in res.output
    report = json.loads((tmp_path / "v.json").read_text())
    assert report["summary"] == {"error": 1, "info": 15, "warning": 5}
    (tmp_path / "empty").mkdir()
    res = runner.invoke(app, ["validate", "nwpu-refer", "--raw", str(tmp_path / "empty")])
    assert res.exit_code == 1
    assert "no new_refs(unc).p or refs(unc).p found" in res.output


def test_inspect_text_and_json(tmp_path: Path) -> None:
    make_nwpu_release(tmp_path / "raw")
    res = runner.invoke(app, ["inspect", str(tmp_path / "raw"), "--examples", "0"])
    assert res.exit_code == 0, res.output
    assert "REFER: new_refs(unc).p + new_instances.json" in res.output
    assert "  ann_id: scalar 13, list 1" in res.output
    assert f"try: rrsis-bench build nwpu-refer --raw {tmp_path / 'raw'}" in res.output
    res = runner.invoke(app, ["inspect", str(tmp_path / "raw"), "--json"])
    data = json.loads(res.stdout)
    assert data["refer"][0]["segmentation_kinds"] == {
        "polygons": 7,
        "empty": 3,
        "rle": 2,
        "uncompressed_rle": 1,
    }


def test_error_exits_are_one_line(tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["build", "rrsis-d", "--raw", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 1
    assert res.output.strip() == (
        f"error: {tmp_path / 'nope'}: the raw folder does not exist; pass --raw pointing at the "
        "downloaded rrsis-d release (see `rrsis-bench datasets` for where to get it)"
    )
    assert "Traceback" not in res.output
    make_rrsisd_release(tmp_path / "raw")
    (tmp_path / "raw" / "rrsisd" / "refs(unc).p").write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")
    res = runner.invoke(
        app, ["build", "rrsis-d", "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 1
    assert res.output.startswith(
        f"error: {tmp_path / 'raw' / 'rrsisd' / 'refs(unc).p'}: refused global os.system"
    )
    res = runner.invoke(app, ["build", "refer", "--raw", str(tmp_path / "raw"), "-o", "group"])
    assert res.exit_code == 1
    assert (
        res.output.strip() == "error: --option 'group' is not KEY=VALUE (e.g. --option group=true)"
    )
    res = runner.invoke(app, ["inspect", str(tmp_path / "nope")])
    assert res.exit_code == 1
    assert res.output.strip() == (
        f"error: {tmp_path / 'nope'}: not a folder or an archive; pass the downloaded release "
        "folder or archive"
    )


def test_inspect_hostile_pickle_exits_1_without_suggesting_a_build(tmp_path: Path) -> None:
    make_rrsisd_release(tmp_path / "raw")
    refs = tmp_path / "raw" / "rrsisd" / "refs(unc).p"
    refs.write_bytes(f"cos\nsystem\n(S'touch {tmp_path / 'h1'}'\ntR.".encode())
    res = runner.invoke(app, ["inspect", str(tmp_path / "raw")])
    assert res.exit_code == 1
    assert "try:" not in res.output
    assert res.stdout.splitlines()[-1] == (
        "cannot build rrsisd/refs(unc).p as it is: fix the problem(s) listed under it"
    )
    assert res.stderr.strip() == (
        f"error: {refs}: refused global os.system: a refs pickle may hold only built-in "
        "containers, strings and numbers (nothing in the file was executed); download the file "
        "again from the dataset's official source"
    )
    assert not (tmp_path / "h1").exists()
    res = runner.invoke(app, ["inspect", str(tmp_path / "raw"), "--json"])
    assert res.exit_code == 1
    assert json.loads(res.stdout)["suggestions"] == []


def test_datasets_lists_the_refer_family() -> None:
    res = runner.invoke(app, ["datasets", "--json"])
    assert res.exit_code == 0
    names = {d["name"]: d for d in json.loads(res.stdout)}
    assert {"rrsis-d", "rrsis-hr", "remotesam-270k", "nwpu-refer", "refer"} <= set(names)
    assert names["rrsis-d"]["published_counts"] == {
        "train": 12181,
        "val": 1740,
        "test": 3481,
        "total": 17402,
    }
    assert names["rrsis-d"]["licence"] == "unknown"
    assert names["nwpu-refer"]["extra_counts"] == {"images": 15003, "targets": 49745}
