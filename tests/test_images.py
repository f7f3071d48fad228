from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

import pytest
from PIL import Image

from rrsis_bench.images import open_image, scan_bytes, scan_file, sha256_file


def _encode(fmt: str, size: tuple[int, int] = (11, 7), **kw: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(buf, fmt, **kw)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "name", "kw"),
    [
        ("JPEG", "jpeg", {}),
        ("PNG", "png", {}),
        ("TIFF", "tiff", {}),
        ("TIFF", "tiff", {"compression": "tiff_lzw"}),
    ],
)
def test_sound_files(fmt: str, name: str, kw: dict[str, object]) -> None:
    data = _encode(fmt, **kw)
    info = scan_bytes(data)
    assert (info.format, info.width, info.height, info.problem) == (name, 11, 7, None)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.size_bytes == len(data)


def test_big_endian_tiff() -> None:
    data = _encode("TIFF")
    # rewrite as big-endian with Pillow's own writer
    im = Image.open(io.BytesIO(data))
    buf = io.BytesIO()
    im.save(buf, "TIFF", tiffinfo={}, big_tiff=False)
    assert scan_bytes(buf.getvalue()).width == 11


def test_truncated_jpeg() -> None:
    data = _encode("JPEG", (64, 64))
    info = scan_bytes(data[: len(data) // 2])
    assert info.problem == "truncated: JPEG has no end-of-image marker (FFD9)"
    assert (info.width, info.height) == (64, 64)


def test_truncated_png() -> None:
    assert scan_bytes(_encode("PNG")[:-5]).problem == "truncated: PNG has no IEND chunk at the end"


def test_truncated_tiff_strip() -> None:
    data = _encode("TIFF", (40, 40))
    # Pillow writes the IFD after the pixel data; cut inside the strip but keep the header
    # by moving the IFD: easier to build a TIFF whose strip points past the end.
    im = Image.open(io.BytesIO(data))
    offsets = im.tag_v2[273]
    counts = im.tag_v2[279]
    end = max(o + c for o, c in zip(offsets, counts, strict=True))
    assert end <= len(data)
    # patch StripByteCounts to claim more bytes than the file has
    ifd = struct.unpack("<I", data[4:8])[0]
    n = struct.unpack("<H", data[ifd : ifd + 2])[0]
    patched = bytearray(data)
    for i in range(n):
        off = ifd + 2 + 12 * i
        tag, typ, cnt = struct.unpack("<HHI", data[off : off + 8])
        if tag == 279 and cnt == 1:
            fmt = "<H" if typ == 3 else "<I"
            size = 2 if typ == 3 else 4
            patched[off + 8 : off + 8 + size] = struct.pack(fmt, counts[0] + len(data))
    info = scan_bytes(bytes(patched))
    assert info.problem is not None
    assert info.problem.startswith("truncated: TIFF image data ends at byte")


def test_garbage_and_deep(tmp_path: Path) -> None:
    info = scan_bytes(b"\xff\xd8\xffgarbage")
    assert info.problem is not None and info.problem.startswith("unparseable jpeg header")
    data = _encode("PNG")
    # corrupt the IDAT payload but keep the structure: deep decoding notices
    bad = bytearray(data)
    idat = data.index(b"IDAT")
    for k in range(idat + 4, idat + 14):
        bad[k] ^= 0xFF
    assert scan_bytes(bytes(bad)).problem is None
    assert (scan_bytes(bytes(bad), deep=True).problem or "").startswith("cannot decode")
    p = tmp_path / "x.png"
    p.write_bytes(data)
    assert scan_file(p).sha256 == sha256_file(p) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    ("fmt", "opened"),
    [("JPEG", "JPEG"), ("PNG", "PNG"), ("TIFF", "TIFF"), ("BMP", "BMP"), ("GIF", "GIF")],
)
def test_open_image_goes_to_the_plugin_the_magic_names(fmt: str, opened: str):
    with open_image(_encode(fmt)) as im:
        assert (im.format, im.size) == (opened, (11, 7))


def test_open_image_tries_only_the_named_plugin(monkeypatch: pytest.MonkeyPatch):
    seen = []
    real = Image.open

    def spy(fp, mode="r", formats=None):
        seen.append(formats)
        return real(fp, mode, formats)

    monkeypatch.setattr(Image, "open", spy)
    for fmt in ("TIFF", "JPEG", "PNG", "BMP"):
        open_image(_encode(fmt)).close()
    assert seen == [["TIFF"], ["JPEG"], ["PNG"], None]
