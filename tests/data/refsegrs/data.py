"""Seeded generator of a miniature RefSegRS release (the real layout, small tiles).

Writes ``<out>/RefSegRS/{images,masks}/<id>.tif`` (RGB TIFF tiles; single-channel deflate-
compressed TIFF masks with foreground 255) and ``output_phrase_{train,val,test}.txt`` with the
known defects of the release and a few more:

* duplicated tiles under synonym ids (train 948 / 4563 / 3220, val 4497 / 1489 / 25), and
  mask(39) = mask(1361) ∪ mask(4483) on one tile;
* a tile in two splits (train 2919 "car" and test 3080 "vehicle", same mask);
* non-contiguous ids (25 … 4563) and an orphan image and mask (9999.tif);
* a mask with grey values (896: {0, 30, 128, 255}), an empty mask (472);
* a truncated image TIFF (1298), a malformed line (``abc12 …``), a repeated line (945);
* CRLF line endings (val) and a double space (2339).

Run ``python tests/data/refsegrs/data.py OUT`` to write one and print the sha256 of every file.
"""

from __future__ import annotations

import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 32

# id -> (split, text, tile key, mask key)
SAMPLES: dict[str, tuple[str, str, str, str]] = {
    "39": ("train", "road", "A", "road"),
    "1361": ("train", "paved road", "A", "paved"),
    "4483": ("train", "unpaved road", "A", "unpaved"),
    "948": ("train", "vehicle in the parking area", "B", "parked"),
    "4563": ("train", "car in the parking area", "B", "parked"),
    "3220": ("train", "light-duty vehicle in the parking area", "B", "parked"),
    "1933": ("train", "sidewalk along with tree", "C", "sidewalk"),
    "896": ("train", "impervious surface", "D", "grey"),
    "2919": ("train", "car", "E", "car"),
    "1298": ("train", "light-duty vehicle", "G", "lightduty"),
    "4497": ("val", "vehicle driving on the road", "F", "driving"),
    "1489": ("val", "car driving on the road", "F", "driving"),
    "25": ("val", "light-duty vehicle driving on the road", "F", "driving"),
    "387": ("val", "sidewalk along with tree", "H", "sidewalk2"),
    "472": ("val", "road marking", "I", "empty"),
    "4444": ("val", "light-duty vehicle in the parking area", "J", "parked2"),
    "4213": ("test", "van driving on the road", "K", "van"),
    "945": ("test", "impervious surface", "L", "surface"),
    "3080": ("test", "vehicle", "E", "car"),
    "2339": ("test", "building  along the road", "M", "building"),
}
ORPHAN = "9999"
TRUNCATED = "1298"

# mask key -> list of (row0, row1, col0, col1, value) rectangles
MASKS: dict[str, list[tuple[int, int, int, int, int]]] = {
    "paved": [(0, 4, 0, 32, 255)],
    "unpaved": [(20, 23, 0, 32, 255)],
    "parked": [(8, 11, 4, 9, 255), (8, 11, 12, 17, 255)],
    "sidewalk": [(0, 32, 28, 31, 255)],
    "grey": [(2, 6, 2, 6, 30), (10, 14, 10, 14, 128), (20, 30, 20, 30, 255)],
    "car": [(15, 18, 15, 21, 255)],
    "lightduty": [(5, 7, 5, 9, 255)],
    "driving": [(12, 14, 3, 7, 255), (17, 19, 22, 27, 255)],
    "sidewalk2": [(30, 32, 0, 32, 255)],
    "empty": [],
    "parked2": [(1, 3, 1, 3, 255)],
    "van": [(10, 14, 5, 21, 255)],
    "surface": [(0, 16, 0, 32, 255)],
    "building": [(20, 31, 2, 12, 255)],
}
MASKS["road"] = MASKS["paved"] + MASKS["unpaved"]


def mask_array(key: str, size: int = SIZE) -> np.ndarray:
    """The mask of ``key`` as stored (uint8, 0 background)."""
    m = np.zeros((size, size), np.uint8)
    for r0, r1, c0, c1, v in MASKS[key]:
        m[r0:r1, c0:c1] = v
    return m


def tile_array(key: str, seed: int = 0, size: int = SIZE) -> np.ndarray:
    """A seeded RGB tile for a tile key (same key, same pixels)."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def _tiff(arr: np.ndarray, compression: str | None = None) -> bytes:
    buf = io.BytesIO()
    img = Image.fromarray(arr)
    if compression:
        img.save(buf, "TIFF", compression=compression)
    else:
        img.save(buf, "TIFF")
    return buf.getvalue()


def write_refsegrs(
    out: Path, *, top: str | None = "RefSegRS", seed: int = 0, defects: bool = True
) -> Path:
    """Write the miniature release under ``out`` and return the release folder.

    Args:
        out: Parent folder (created).
        top: Name of the top folder (``None``: files directly in ``out``).
        seed: Seed of the tile pixels.
        defects: Include the truncated image, malformed and repeated lines, orphan and CRLF.
    """
    root = out / top if top else out
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for sid, (split, text, tile, mask) in SAMPLES.items():
        image_bytes = _tiff(tile_array(tile, seed))
        if sid == TRUNCATED and defects:
            image_bytes = image_bytes[: len(image_bytes) // 3]
        (root / "images" / f"{sid}.tif").write_bytes(image_bytes)
        (root / "masks" / f"{sid}.tif").write_bytes(_tiff(mask_array(mask), "tiff_deflate"))
        lines[split].append(f"{sid} {text}")
    if defects:
        (root / "images" / f"{ORPHAN}.tif").write_bytes(_tiff(tile_array("orphan", seed)))
        (root / "masks" / f"{ORPHAN}.tif").write_bytes(_tiff(mask_array("car"), "tiff_deflate"))
        lines["train"].insert(3, "abc12 road marking")
        lines["test"].append("945 impervious surface")
    else:
        lines["train"] = [r for r in lines["train"] if not r.startswith(f"{TRUNCATED} ")]
        (root / "images" / f"{TRUNCATED}.tif").unlink()
        (root / "masks" / f"{TRUNCATED}.tif").unlink()
    for split, rows in lines.items():
        eol = "\r\n" if split == "val" and defects else "\n"
        text = eol.join(rows) + eol
        (root / f"output_phrase_{split}.txt").write_bytes(text.encode("ascii"))
    return root


def zip_release(root: Path, archive: Path, *, prefix: str = "RefSegRS") -> Path:
    """Zip a release folder as ``RefSegRS.zip`` does (members under ``prefix/``), deterministically."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            info = zipfile.ZipInfo(f"{prefix}/{rel}" if prefix else rel, (2024, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return archive


def realdata_tile(mask: np.ndarray, counts: str) -> np.ndarray:
    """The generated image of a real row: a function of its mask only.

    Rows with identical masks get identical pixels, as synonym ids share one tile in the real
    release; rows with different masks get different pixels (the background colour comes from
    the mask's RLE). Flat colours keep the 512×512 TIFFs small.
    """
    digest = hashlib.sha256(counts.encode()).digest()
    tile = np.empty((*mask.shape, 3), np.uint8)
    tile[...] = np.frombuffer(digest[:3], np.uint8)
    tile[mask != 0] = np.frombuffer(digest[3:6], np.uint8) | 1
    return tile


def write_refsegrs_from_rows(rows: list[dict], out: Path, *, top: str = "RefSegRS") -> Path:
    """Write a RefSegRS val split from real rows (``split, image_id, sent, segmentation``).

    ``output_phrase_val.txt`` gets one ``<image_id> <sent>`` line per row, ``masks/<id>.tif`` the
    decoded RLE × 255 (single-channel deflate TIFF, as the release), ``images/<id>.tif`` the
    tile of :func:`realdata_tile`.
    """
    from pycocotools import mask as coco_mask

    root = out / top
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    lines = []
    for row in rows:
        seg = row["segmentation"]
        mask = coco_mask.decode({"size": seg["size"], "counts": seg["counts"].encode()})
        mask = mask.astype(np.uint8) * 255
        sid = row["image_id"]
        (root / "masks" / f"{sid}.tif").write_bytes(_tiff(mask, "tiff_deflate"))
        tile = realdata_tile(mask, seg["counts"])
        (root / "images" / f"{sid}.tif").write_bytes(_tiff(tile, "tiff_deflate"))
        lines.append(f"{sid} {row['sent']}\n")
    (root / "output_phrase_val.txt").write_text("".join(lines), encoding="ascii")
    return root


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "refsegrs-mini")
    release = write_refsegrs(target)
    for p in sorted(release.rglob("*")):
        if p.is_file():
            print(hashlib.sha256(p.read_bytes()).hexdigest()[:16], p.relative_to(target))
