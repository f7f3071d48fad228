"""Per-sample file work of the phrase-file builders: image and mask scans, run in processes.

For each sample the image file is read once, hashed, checked structurally
(:func:`rrsis_bench.images.scan_bytes`) and decoded to hash its *pixels* (so the same tile saved
twice with different metadata is still recognised); the mask file is checked the same way,
decoded, its value set recorded and binarised with the reference rule ``value > threshold``.

Example:
    >>> import io, numpy as np
    >>> from PIL import Image
    >>> m = np.zeros((4, 6), np.uint8); m[1:3, 2:5] = 255; m[0, 0] = 30
    >>> buf = io.BytesIO(); Image.fromarray(m).save(buf, "PNG")
    >>> res = decode_mask(buf.getvalue(), threshold=50)
    >>> res.values, res.area, res.height, res.width
    ((0, 30, 255), 6, 4, 6)
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rrsis_bench import masks
from rrsis_bench.images import open_image, scan_bytes
from rrsis_bench.progress import track
from rrsis_bench.schema import Rle


@dataclass(frozen=True)
class ImageResult:
    """What reading one image file found (``problem`` is ``None`` for a sound image)."""

    problem: str | None
    sha256: str | None = None
    size_bytes: int = 0
    width: int = 0
    height: int = 0
    pixel_sha256: str | None = None


@dataclass(frozen=True)
class MaskResult:
    """What reading one mask file found (``problem`` is ``None`` for a usable mask).

    Attributes:
        values: The sorted distinct pixel values of the mask as stored.
        rle: The mask binarised with ``value > threshold``.
        note: How a non-grey mask was turned into one channel, if it was.
    """

    problem: str | None
    sha256: str | None = None
    height: int = 0
    width: int = 0
    values: tuple[int, ...] = ()
    rle: Rle | None = None
    area: int = 0
    note: str | None = None


@dataclass(frozen=True)
class SampleJob:
    """The files of one sample (``None`` when the file does not exist)."""

    image: str | None
    mask: str | None
    threshold: int
    deep: bool = False


def pixel_sha256(data: bytes) -> str:
    """sha256 of an image's decoded pixels (mode, size and raw pixel bytes)."""
    with open_image(data) as im:
        im.load()
        h = hashlib.sha256(f"{im.mode}|{im.width}x{im.height}|".encode())
        h.update(im.tobytes())
        return h.hexdigest()


def read_image(path: str, deep: bool = False) -> ImageResult:
    """Read, hash, structurally check and pixel-hash one image file."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return ImageResult("missing")
    except OSError as exc:
        return ImageResult(f"unreadable: {exc.strerror or exc}")
    scan = scan_bytes(data, deep=deep)
    if scan.problem is not None:
        return ImageResult(scan.problem, scan.sha256, scan.size_bytes, scan.width, scan.height)
    try:
        pixels = pixel_sha256(data)
    except Exception as exc:
        return ImageResult(
            f"cannot decode: {exc}", scan.sha256, scan.size_bytes, scan.width, scan.height
        )
    return ImageResult(None, scan.sha256, scan.size_bytes, scan.width, scan.height, pixels)


def _mask_array(data: bytes) -> tuple[np.ndarray, str | None]:

    with open_image(data) as im:
        im.load()
        note = None
        frames = int(getattr(im, "n_frames", 1))
        if frames > 1:
            note = f"{frames} frames; the first was used"
        mode = im.mode
        if mode in ("L", "I;16", "I;16L", "I;16B", "I"):
            arr = np.asarray(im)
        elif mode == "1":
            arr = np.asarray(im.convert("L"))
        elif mode in ("P", "PA"):
            arr = np.asarray(im.convert("L"))
            note = "palette mask converted to grey through its palette"
        elif mode == "LA":
            arr = np.asarray(im)[..., 0]
            note = "grey + alpha mask: alpha ignored"
        elif mode in ("RGB", "RGBA"):
            rgb = np.asarray(im)[..., :3]
            if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 0] == rgb[..., 2]).all():
                arr = rgb[..., 0]
                note = "RGB mask with identical channels: one channel used"
            else:
                arr = np.asarray(im.convert("L"))
                note = "RGB mask with differing channels converted to grey (ITU-R 601-2 luma)"
        else:
            raise ValueError(f"unsupported mask mode {mode}")
    return arr, note


def _value_set(arr: np.ndarray) -> tuple[int, ...]:
    if arr.dtype == np.uint8:
        counts = np.bincount(arr.ravel(), minlength=256)
        return tuple(int(v) for v in np.flatnonzero(counts))
    return tuple(int(v) for v in np.unique(arr))


def decode_mask(data: bytes, threshold: int, sha256: str | None = None) -> MaskResult:
    """Decode a mask file, record its value set and binarise it with ``value > threshold``."""
    try:
        arr, note = _mask_array(data)
    except Exception as exc:
        return MaskResult(f"cannot decode: {exc}", sha256)
    if arr.ndim != 2:
        return MaskResult(f"cannot decode: expected a 2-D mask, got shape {arr.shape}", sha256)
    rle = masks.encode(arr > threshold)
    h, w = arr.shape
    return MaskResult(None, sha256, h, w, _value_set(arr), rle, masks.area(rle), note)


def read_mask(path: str, threshold: int) -> MaskResult:
    """Read, structurally check and decode one mask file."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return MaskResult("missing")
    except OSError as exc:
        return MaskResult(f"unreadable: {exc.strerror or exc}")
    scan = scan_bytes(data)
    if scan.problem is not None:
        return MaskResult(scan.problem, scan.sha256)
    return decode_mask(data, threshold, scan.sha256)


def scan_sample(job: SampleJob) -> tuple[ImageResult, MaskResult]:
    """Read the image and the mask of one sample (a top-level function, for worker processes)."""
    image = read_image(job.image, job.deep) if job.image else ImageResult("missing")
    mask = read_mask(job.mask, job.threshold) if job.mask else MaskResult("missing")
    return image, mask


def scan_samples(
    jobs: list[SampleJob], num_proc: int = 1, progress: bool | None = None
) -> list[tuple[ImageResult, MaskResult]]:
    """Run :func:`scan_sample` over ``jobs`` in ``num_proc`` processes; results keep job order."""
    what = "reading images and masks"
    if num_proc > 1 and len(jobs) > 32:
        chunk = max(1, min(64, len(jobs) // (num_proc * 8) or 1))
        with ProcessPoolExecutor(max_workers=num_proc) as pool:
            return list(
                track(pool.map(scan_sample, jobs, chunksize=chunk), what, len(jobs), progress)
            )
    return [scan_sample(j) for j in track(jobs, what, len(jobs), progress)]
