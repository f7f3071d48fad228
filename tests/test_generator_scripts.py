"""The fixture generators under tests/data/ run as scripts from the repository root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, f"tests/data/{script}/data.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_rrsisd_script_nested(tmp_path: Path) -> None:
    out = tmp_path / "RRSIS-D"
    assert _run("rrsisd", str(out)).strip() == str(out)
    files = _files(out)
    assert files[:3] == [
        "images/rrsisd/JPEGImages/00011.jpg",
        "images/rrsisd/JPEGImages/00110.jpg",
        "images/rrsisd/JPEGImages/00413.jpg",
    ]
    assert "images/rrsisd/ann_split/00011.xml" in files
    assert files[-2:] == ["rrsisd/instances.json", "rrsisd/refs(unc).p"]


def test_rrsisd_script_drive(tmp_path: Path) -> None:
    _run("rrsisd", str(tmp_path), "--layout", "drive")
    assert _files(tmp_path) == ["JPEGImages.zip", "ann_split.zip", "instances.json", "refs(unc).p"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), ["image/image/P0001.jpg", "new_instances.json", "new_refs(unc).p"]),
        (
            ("--variant", "old", "--image-dir", "image"),
            ["image/P0001.jpg", "instances.json", "refs(unc).p"],
        ),
        (("--image-dir", "."), ["P0001.jpg", "new_instances.json", "new_refs(unc).p"]),
    ],
)
def test_nwpu_script_variants(tmp_path: Path, args: tuple[str, ...], expected: list[str]) -> None:
    _run("nwpu", str(tmp_path), *args)
    files = [
        f
        for f in _files(tmp_path)
        if not f.endswith(("P0002.jpg", "P0003.jpg", "P0004.jpg", "P0005.jpg"))
    ]
    assert files == expected


def test_nwpu_script_rejects_unknown_variant(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "tests/data/nwpu/data.py", str(tmp_path), "--variant", "newer"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "argument --variant: invalid choice: 'newer'" in done.stderr
