"""Per-sample image and mask reading of the phrase-file builders."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

from rrsis_bench.builders.phrase_files import (
    ImageResult,
    MaskResult,
    SampleJob,
    decode_mask,
    pixel_sha256,
    read_image,
    read_mask,
    scan_samples,
)


def _encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _area(res: MaskResult) -> int:
    assert res.rle is not None
    return int(coco_mask.area({"size": res.rle["size"], "counts": res.rle["counts"].encode()}))


MASK = np.zeros((6, 8), np.uint8)
MASK[1:4, 2:7] = 255


def test_decode_grey_mask_value_set_and_threshold() -> None:
    m = MASK.copy()
    m[5, 0] = 50  # not foreground under `> 50`
    m[5, 1] = 51
    res = decode_mask(_encode(Image.fromarray(m), "PNG"), threshold=50)
    assert (res.problem, res.values, res.height, res.width, res.note) == (
        None,
        (0, 50, 51, 255),
        6,
        8,
        None,
    )
    assert res.area == _area(res) == 16


@pytest.mark.parametrize(
    ("image", "note"),
    [
        (Image.fromarray(MASK).convert("1"), None),
        (
            Image.fromarray(np.repeat(MASK[..., None], 3, 2)),
            "RGB mask with identical channels: one channel used",
        ),
        (Image.fromarray(MASK).convert("LA"), "grey + alpha mask: alpha ignored"),
        (Image.fromarray(MASK).convert("P"), "palette mask converted to grey through its palette"),
        (Image.fromarray(MASK.astype(np.uint16) * 257), None),
    ],
)
def test_decode_mask_modes(image: Image.Image, note: str | None) -> None:
    res = decode_mask(_encode(image, "PNG" if image.mode != "I;16" else "TIFF"), threshold=50)
    assert res.problem is None
    assert res.note == note
    assert res.area == 15
    assert res.values[0] == 0 and len(res.values) == 2


def test_palette_indices_are_mapped_through_the_palette() -> None:
    idx = (MASK > 0).astype(np.uint8)  # indices 0/1 whose palette colours are black/white
    img = Image.fromarray(idx, "P")
    img.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    res = decode_mask(_encode(img, "PNG"), threshold=50)
    assert (res.values, res.area) == ((0, 255), 15)


def test_rgb_mask_with_differing_channels_is_converted() -> None:
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[1:4, 2:7] = (255, 0, 0)  # luma 76 > 50
    res = decode_mask(_encode(Image.fromarray(rgb), "PNG"), threshold=50)
    assert res.note == "RGB mask with differing channels converted to grey (ITU-R 601-2 luma)"
    assert (res.values, res.area) == ((0, 76), 15)


def test_undecodable_mask() -> None:
    res = decode_mask(b"not an image", threshold=50)
    assert res.problem is not None and res.problem.startswith("cannot decode: ")
    assert res.rle is None


def test_read_mask_missing_and_truncated(tmp_path: Path) -> None:
    assert read_mask(str(tmp_path / "none.png"), 50) == MaskResult("missing")
    path = tmp_path / "m.png"
    path.write_bytes(_encode(Image.fromarray(MASK), "PNG")[:-20])
    res = read_mask(str(path), 50)
    assert res.problem == "truncated: PNG has no IEND chunk at the end"


def test_read_image_and_pixel_hash(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    plain = tmp_path / "a.tif"
    plain.write_bytes(_encode(Image.fromarray(rgb), "TIFF"))
    packed = tmp_path / "b.tif"
    packed.write_bytes(_encode(Image.fromarray(rgb), "TIFF", compression="tiff_lzw"))
    a, b = read_image(str(plain)), read_image(str(packed))
    assert (a.problem, a.width, a.height) == (None, 7, 5)
    assert a.sha256 != b.sha256
    assert a.pixel_sha256 == b.pixel_sha256 == pixel_sha256(plain.read_bytes())
    assert read_image(str(tmp_path / "none.tif")) == ImageResult("missing")
    truncated = tmp_path / "c.tif"
    truncated.write_bytes(plain.read_bytes()[:40])
    res = read_image(str(truncated))
    assert res.problem is not None and res.problem.startswith("truncated: TIFF")
    assert res.pixel_sha256 is None


def test_scan_samples_in_processes_keeps_order(tmp_path: Path) -> None:
    jobs = []
    for i in range(40):
        m = np.zeros((4, 4), np.uint8)
        m[: i % 4 + 1, 0] = 255
        path = tmp_path / f"{i}.png"
        path.write_bytes(_encode(Image.fromarray(m), "PNG"))
        jobs.append(SampleJob(str(path), str(path), 50))
    serial = scan_samples(jobs, num_proc=1)
    parallel = scan_samples(jobs, num_proc=2)
    assert serial == parallel
    assert [mask.area for _, mask in serial[:5]] == [1, 2, 3, 4, 1]
