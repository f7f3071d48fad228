"""Build speed of the phrase-file builders on a generated RefSegRS-shaped release.

Writes N ids on N/2 tiles (every tile under two synonym ids, as in RefSegRS) of 512×512 RGB
uncompressed TIFF images and deflate TIFF masks, then measures in the same process, with the
same number of processes:

* floor: read every image and mask file, sha256 it and parse its header (``scan_bytes``);
* read: the builder's reading stage (``rrsis_bench.builders.validate``: parse, scan, decode
  images for the pixel hash, decode and binarise masks, leakage groups);
* build: the whole build, shards written.

Usage: ``python bench/phrase.py [--ids 1000] [--num-proc 2]``; prints seconds and ratios.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from rrsis_bench.builders import build, validate
from rrsis_bench.images import scan_bytes

WORDS = ("vehicle", "car", "light-duty vehicle", "road", "building along the road")


def _tiff(arr: np.ndarray, compression: str | None = None) -> bytes:
    buf = io.BytesIO()
    if compression:
        Image.fromarray(arr).save(buf, "TIFF", compression=compression)
    else:
        Image.fromarray(arr).save(buf, "TIFF")
    return buf.getvalue()


def write_release(root: Path, ids: int, size: int = 512) -> list[Path]:
    rng = np.random.default_rng(0)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    files: list[Path] = []
    lines: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    for i in range(ids // 2):
        tile = _tiff(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
        mask = np.zeros((size, size), np.uint8)
        r, c = rng.integers(0, size - 64, 2)
        mask[r : r + 40, c : c + 60] = 255
        mask_bytes = _tiff(mask, "tiff_deflate")
        split = ("train", "train", "train", "train", "val", "test", "test", "test")[i % 8]
        for k in range(2):
            sid = 2 * i + k + 1
            (root / "images" / f"{sid}.tif").write_bytes(tile)
            (root / "masks" / f"{sid}.tif").write_bytes(mask_bytes)
            files += [root / "images" / f"{sid}.tif", root / "masks" / f"{sid}.tif"]
            lines[split].append(f"{sid} {WORDS[(i + k) % len(WORDS)]}")
    for split, rows in lines.items():
        (root / f"output_phrase_{split}.txt").write_text("\n".join(rows) + "\n")
    return files


def _floor_one(path: str) -> str:
    return scan_bytes(Path(path).read_bytes()).sha256


def floor(files: list[Path], num_proc: int) -> float:
    start = time.perf_counter()
    args = [str(p) for p in files]
    if num_proc > 1:
        with ProcessPoolExecutor(num_proc) as pool:
            list(pool.map(_floor_one, args, chunksize=max(1, len(args) // (num_proc * 8))))
    else:
        [_floor_one(a) for a in args]
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ids", type=int, default=1000)
    parser.add_argument("--num-proc", type=int, default=2)
    args = parser.parse_args()
    os.environ["RRSIS_BENCH_QUIET"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "RefSegRS"
        files = write_release(root, args.ids)
        mib = sum(p.stat().st_size for p in files) / 2**20
        floor(files, args.num_proc)  # warm the page cache once, for every measurement alike
        t_floor = floor(files, args.num_proc)
        start = time.perf_counter()
        validate("refsegrs", root, num_proc=args.num_proc)
        t_read = time.perf_counter() - start
        start = time.perf_counter()
        build("refsegrs", root, Path(tmp) / "out", num_proc=args.num_proc)
        t_build = time.perf_counter() - start
    print(f"python {sys.version.split()[0]}, {platform.machine()}, {os.cpu_count()} cpus")
    print(f"{args.ids} ids, {len(files)} files, {mib:.0f} MiB, --num-proc {args.num_proc}")
    print(f"floor (read + sha256 + header): {t_floor:6.2f} s")
    print(f"read stage (validate):          {t_read:6.2f} s  ratio {t_read / t_floor:4.2f}×")
    print(f"build (read + write shards):    {t_build:6.2f} s  ratio {t_build / t_floor:4.2f}×")


if __name__ == "__main__":
    main()
