"""How far above the read floor any build that stores the image bytes must be.

For a folder of images, in a pool of 2 processes and in the same run, time

* the floor of ``bench/build.py``: read every image, sha256 it and parse its header;
* a bare copy: read and sha256 every image, append its bytes to one output file per process
  (no parquet, no ``fsync``), then sha256 that output file, as the manifest's shard hash needs.

and print copy / floor. A build writes at least what the copy writes, so this ratio is a lower
bound on build / floor for the format (image bytes stored unchanged, every shard hashed).

    .venv/bin/python bench/copy_floor.py IMAGE_DIR [--repeats 3] [--out DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rrsis_bench.images import scan_file


def _scan(chunk: list[str]) -> None:
    for p in chunk:
        scan_file(Path(p))


def _copy(args: tuple[list[str], str]) -> None:
    chunk, dest = args
    with open(dest, "wb") as f:
        for p in chunk:
            data = Path(p).read_bytes()
            hashlib.sha256(data).hexdigest()
            f.write(data)
    hashlib.sha256(Path(dest).read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("images", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--out", type=Path, default=None, help="where the copies go (default: a temp dir)"
    )
    args = ap.parse_args()
    paths = sorted(
        str(p) for p in args.images.rglob("*") if p.suffix.lower() in (".jpg", ".png", ".tif")
    )
    halves = [paths[0::2], paths[1::2]]
    out = Path(tempfile.mkdtemp(dir=args.out))
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_scan, halves))  # warm the page cache
        for _ in range(args.repeats):
            t = time.perf_counter()
            list(pool.map(_scan, halves))
            floor = time.perf_counter() - t
            t = time.perf_counter()
            list(pool.map(_copy, [(halves[0], str(out / "a")), (halves[1], str(out / "b"))]))
            copy = time.perf_counter() - t
            print(
                f"{len(paths)} images: floor {floor:.2f} s, bare copy {copy:.2f} s, copy / floor {copy / floor:.2f}"
            )
    for f in out.iterdir():
        f.unlink()
    out.rmdir()


if __name__ == "__main__":
    main()
