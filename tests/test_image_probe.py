"""Probing images (header and end marker only) and hashing them when shards are written."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from data.records import make_inputs, make_records
from PIL import Image

from rrsis_bench import store
from rrsis_bench.builders.base import BuildContext
from rrsis_bench.errors import BuildError
from rrsis_bench.images import probe_file, scan_file
from rrsis_bench.validate import Report


def _image(fmt: str, w: int = 300, h: int = 200) -> bytes:
    a = (np.random.default_rng(0).random((h, w, 3)) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_probe_reads_size_without_hashing(tmp_path: Path, fmt: str) -> None:
    p = tmp_path / f"a.{fmt.lower()}"
    p.write_bytes(_image(fmt))
    probe = probe_file(p)
    full = scan_file(p)
    assert (probe.format, probe.width, probe.height, probe.problem) == (full.format, 300, 200, None)
    assert probe.sha256 == "" and full.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()
    assert probe.size_bytes == p.stat().st_size


@pytest.mark.parametrize(
    ("fmt", "problem"),
    [
        ("JPEG", "truncated: JPEG has no end-of-image marker (FFD9)"),
        ("PNG", "truncated: PNG has no IEND chunk at the end"),
    ],
)
def test_probe_falls_back_to_a_full_scan_on_problems(
    tmp_path: Path, fmt: str, problem: str
) -> None:
    data = _image(fmt)
    p = tmp_path / "t.img"
    p.write_bytes(data[: len(data) // 2])
    probe = probe_file(p)
    assert probe.problem == problem
    assert probe.sha256 == hashlib.sha256(p.read_bytes()).hexdigest()


def test_probe_other_formats_and_small_files(tmp_path: Path) -> None:
    tif = tmp_path / "a.tif"
    Image.new("RGB", (40, 30)).save(tif, "TIFF")
    assert probe_file(tif).sha256 == hashlib.sha256(tif.read_bytes()).hexdigest()
    small = tmp_path / "s.jpg"
    small.write_bytes(_image("JPEG", 8, 8))
    assert probe_file(small).sha256 != ""  # small enough to read whole
    # a JPEG whose size segment lies beyond the probed head (a large APP segment)
    data = _image("JPEG")
    app = b"\xff\xe1" + (40_000).to_bytes(2, "big") + b"\x00" * 39_998
    big = tmp_path / "exif.jpg"
    big.write_bytes(data[:2] + app + data[2:])
    s = probe_file(big)
    assert (s.width, s.height, s.problem) == (300, 200, None) and s.sha256 != ""


def test_context_probe_records_no_hash(tmp_path: Path) -> None:
    p = tmp_path / "a.jpg"
    p.write_bytes(_image("JPEG"))
    ctx = BuildContext(root=tmp_path, report=Report("x"))
    scans = ctx.scan_images([p], hash_files=False)
    assert scans[p].sha256 == "" and ctx.raw_files == {}
    ctx.scan_images([p])
    assert ctx.raw_files == {"a.jpg": hashlib.sha256(p.read_bytes()).hexdigest()}


def test_writer_hashes_images_and_detects_changes(tmp_path: Path) -> None:
    recs = make_records(tmp_path / "raw", n=4)
    out = store.write_dataset(tmp_path / "a", recs, make_inputs(), Report("toy"))
    manifest = store.open_dataset(out).manifest
    for r in recs:
        assert (
            manifest["raw_files"][r.file_name]
            == hashlib.sha256(Path(r.source).read_bytes()).hexdigest()
        )
    inputs = make_inputs()
    stale = dict(inputs.raw_files) | {recs[0].file_name: "f" * 64}
    changed = type(inputs)(**{**inputs.__dict__, "raw_files": stale})
    with pytest.raises(
        BuildError, match=f"^{recs[0].file_name}: the image changed while the build ran"
    ):
        store.write_dataset(tmp_path / "b", recs, changed, Report("toy"))
    assert not (tmp_path / "b").exists()
