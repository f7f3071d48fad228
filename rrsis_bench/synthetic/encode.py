"""Encoding images and masks the way each release stores them (Pillow, deterministic bytes).

Pillow writes no timestamp into JPEG, PNG or TIFF files, so the same pixels give the same
bytes; every encoder here fixes its settings explicitly.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

JPEG_QUALITY = 90


def jpeg(image: np.ndarray) -> bytes:
    """RGB ``uint8`` array as a baseline JPEG (quality 90, 4:2:0)."""
    buf = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buf, "JPEG", quality=JPEG_QUALITY, subsampling=2)
    return buf.getvalue()


def tiff_rgb(image: np.ndarray) -> bytes:
    """RGB ``uint8`` array as an uncompressed TIFF."""
    buf = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buf, "TIFF")
    return buf.getvalue()


def png_rgb(image: np.ndarray) -> bytes:
    """RGB ``uint8`` array as a PNG (zlib level 1: textured images barely compress further)."""
    buf = io.BytesIO()
    Image.fromarray(image, mode="RGB").save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def mask_tiff(mask: np.ndarray) -> bytes:
    """Binary mask as a single-channel 8-bit TIFF, foreground 255, LZW-compressed."""
    buf = io.BytesIO()
    Image.fromarray((mask != 0).astype(np.uint8) * 255, mode="L").save(
        buf, "TIFF", compression="tiff_lzw"
    )
    return buf.getvalue()


def mask_png(mask: np.ndarray) -> bytes:
    """Binary mask as an 8-bit grayscale PNG: black background, white (255) foreground."""
    buf = io.BytesIO()
    Image.fromarray((mask != 0).astype(np.uint8) * 255, mode="L").save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, creating the parent folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
