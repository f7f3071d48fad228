"""Seeded generator of a miniature RISBench release (the real layout, small tiles).

Writes ``<out>/RISBench_dataset/{img_rgb,mask}/<file>.png`` (RGB PNG tiles; grey PNG masks 0/255)
and ``output_phrase_{train,val,test}.txt`` with lines ``<file>.png <sentence>``:

* one image copy per object: ``train_1_0`` / ``train_1_1`` share a tile, with different masks;
* val files named ``train_*`` (``train_14700_0``, ``train_14703_0``); the latter carries the real
  512×512 mask of that RISBench val row (research oracle: area 237);
* two ids on DiCoR's exclusion list (``train_819_1``, ``train_6194_0``);
* text noise: a double space and a space before the final period;
* a mask stored as RGB with identical channels (``test_5_1``).

Run ``python tests/data/risbench/data.py OUT`` to write one.
"""

from __future__ import annotations

import hashlib
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 24
ORACLE_ID = "train_14703_0"
ORACLE_RLE = {"size": [512, 512], "counts": "P_k3a0X?7O2N10000001O0O3Bbao3"}
ORACLE_TEXT = "The small vehicle is located at the bottom-middle part of the image on the edge of a dirt area."

# file stem -> (split, text, tile key, mask rectangles (r0, r1, c0, c1))
SAMPLES: dict[str, tuple[str, str, str, list[tuple[int, int, int, int]]]] = {
    "train_1_0": ("train", "The storage tank on the left.", "t1", [(2, 8, 2, 8)]),
    "train_1_1": ("train", "The storage tank on the right.", "t1", [(2, 8, 14, 20)]),
    "train_20_0": ("train", "A ship  docked at the harbor .", "t20", [(10, 14, 3, 20)]),
    "train_819_1": ("train", "The airplane parked near the terminal.", "t819", [(0, 5, 0, 5)]),
    "train_6194_0": ("train", "The tennis court in the middle.", "t6194", [(8, 16, 8, 16)]),
    "train_14700_0": ("val", "The bridge over the river.", "t14700", [(11, 13, 0, 24)]),
    ORACLE_ID: ("val", ORACLE_TEXT, "t14703", []),
    "test_5_0": ("test", "The swimming pool at the top.", "t5", [(0, 4, 6, 12)]),
    "test_5_1": ("test", "The vehicles next to the pool.", "t5", [(18, 20, 2, 6)]),
}
RGB_MASK = "test_5_1"


def tile_array(key: str, seed: int = 0, size: int = SIZE) -> np.ndarray:
    """A seeded RGB tile (same key, same pixels)."""
    digest = hashlib.sha256(f"risbench:{seed}:{key}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def oracle_mask() -> np.ndarray:
    """The real RISBench val mask of ``train_14703_0`` (0/255, 512×512)."""
    from pycocotools import mask as coco_mask

    rle = {"size": ORACLE_RLE["size"], "counts": ORACLE_RLE["counts"].encode()}
    return coco_mask.decode(rle).astype(np.uint8) * 255


def mask_array(stem: str) -> np.ndarray:
    """The mask of a sample as stored (0/255)."""
    if stem == ORACLE_ID:
        return oracle_mask()
    m = np.zeros((SIZE, SIZE), np.uint8)
    for r0, r1, c0, c1 in SAMPLES[stem][3]:
        m[r0:r1, c0:c1] = 255
    return m


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    return buf.getvalue()


def write_risbench(
    out: Path,
    *,
    top: str | None = "RISBench_dataset",
    image_dir: str = "img_rgb",
    mask_dir: str = "mask",
    seed: int = 0,
) -> Path:
    """Write the miniature release under ``out`` and return the release folder."""
    root = out / top if top else out
    (root / image_dir).mkdir(parents=True, exist_ok=True)
    (root / mask_dir).mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for stem, (split, text, tile, _) in SAMPLES.items():
        if stem == ORACLE_ID:
            image = np.full((512, 512, 3), (90, 110, 80), np.uint8)
        else:
            image = tile_array(tile, seed)
        (root / image_dir / f"{stem}.png").write_bytes(_png(image))
        mask = mask_array(stem)
        if stem == RGB_MASK:
            mask = np.repeat(mask[..., None], 3, axis=2)
        (root / mask_dir / f"{stem}.png").write_bytes(_png(mask))
        lines[split].append(f"{stem}.png {text}")
    for split, rows in lines.items():
        (root / f"output_phrase_{split}.txt").write_text("\n".join(rows) + "\n", encoding="ascii")
    return root


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "risbench-mini")
    release = write_risbench(target)
    for p in sorted(release.rglob("*")):
        if p.is_file():
            print(hashlib.sha256(p.read_bytes()).hexdigest()[:16], p.relative_to(target))
