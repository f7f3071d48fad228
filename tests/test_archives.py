from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from rrsis_bench.archives import check_archive, extract, is_archive
from rrsis_bench.errors import DatasetNotFoundError, FormatError, UnsafeArchiveError


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_extract_zip_into_cache_and_reuse(tmp_path: Path) -> None:
    arc = _zip(
        tmp_path / "RefSegRS.zip",
        {"RefSegRS/images/1.tif": b"a", "RefSegRS/output_phrase_val.txt": b"1 car\n"},
    )
    out = extract(arc)
    assert (out / "RefSegRS/images/1.tif").read_bytes() == b"a"
    assert out.name.startswith("RefSegRS-")
    (out / "RefSegRS/images/1.tif").write_bytes(b"changed")
    assert extract(arc) == out  # cached: not extracted again
    assert (out / "RefSegRS/images/1.tif").read_bytes() == b"changed"


def test_extract_tar(tmp_path: Path) -> None:
    arc = tmp_path / "x.tar.gz"
    with tarfile.open(arc, "w:gz") as tf:
        data = b"hello"
        ti = tarfile.TarInfo("JPEGImages/00001.jpg")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    out = extract(arc, tmp_path / "dest")
    assert (out / "JPEGImages/00001.jpg").read_bytes() == b"hello"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../evil.txt", "member '../evil.txt' contains '..'; refusing to extract"),
        ("/etc/evil.txt", "member '/etc/evil.txt' has an absolute path; refusing to extract"),
        ("a/../../evil.txt", "member 'a/../../evil.txt' contains '..'; refusing to extract"),
    ],
)
def test_hostile_paths_refused(tmp_path: Path, name: str, message: str) -> None:
    arc = _zip(tmp_path / "bad.zip", {"ok.txt": b"x", name: b"y"})
    with pytest.raises(UnsafeArchiveError) as info:
        extract(arc, tmp_path / "dest")
    assert str(info.value) == f"{arc}: {message}"
    assert not (tmp_path / "dest").exists()
    assert not (tmp_path / "evil.txt").exists()


def test_symlink_refused(tmp_path: Path) -> None:
    arc = tmp_path / "link.zip"
    with zipfile.ZipFile(arc, "w") as zf:
        info = zipfile.ZipInfo("images/link.tif")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(
        UnsafeArchiveError, match="member 'images/link.tif' is a link; refusing to extract"
    ):
        extract(arc, tmp_path / "dest")
    tar = tmp_path / "link.tar"
    with tarfile.open(tar, "w") as tf:
        ti = tarfile.TarInfo("x")
        ti.type = tarfile.SYMTYPE
        ti.linkname = "/etc/passwd"
        tf.addfile(ti)
    with pytest.raises(UnsafeArchiveError, match="member 'x' is a link"):
        check_archive(tar)


def test_decompression_bomb_refused(tmp_path: Path) -> None:
    arc = _zip(tmp_path / "bomb.zip", {"zeros.bin": b"\0" * 5_000_000})
    with pytest.raises(
        UnsafeArchiveError,
        match=r"member 'zeros.bin' expands \d+× \(limit 200×\): a decompression bomb",
    ):
        extract(arc, tmp_path / "dest")
    with pytest.raises(
        UnsafeArchiveError, match="members total 5,000,000 bytes, above the limit 1,000"
    ):
        check_archive(arc, max_total_bytes=1000, max_ratio=1e9)


def test_not_an_archive_and_missing(tmp_path: Path) -> None:
    bad = tmp_path / "JPEGImages.zip"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(FormatError, match="not a readable archive .*download it again"):
        extract(bad)
    with pytest.raises(DatasetNotFoundError, match="archive not found"):
        extract(tmp_path / "nope.zip")


def test_is_archive() -> None:
    assert is_archive("a.ZIP") and is_archive("b.tar.gz") and not is_archive("refs(unc).p")
