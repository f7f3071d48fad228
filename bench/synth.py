"""Speed of `rrsis-bench synth`: images per second per layout, against an encode-and-write floor.

For each layout the script generates N scenes of S×S pixels with P processes and, in the same
run and with the same P, measures the floor: encoding an already-rendered scene N times in the
layout's image format and writing the N files (what any generator of that layout must at least
do per image). It prints scenes/s, image files/s (RefSegRS and RISBench write one image file per
expression, per object, so several per scene; a built RefSegRS or RISBench dataset has one image
per file), the floor's images/s and the ratio generator / floor per scene. ``cpu ms/scene`` is
the CPU time of all processes per scene, which a busy shared machine inflates much less than the
wall-clock rate.

    python bench/synth.py --images 200 --size 512 --num-proc 2
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from rrsis_bench.synthetic import generate
from rrsis_bench.synthetic.categories import RRSISD_CATEGORIES
from rrsis_bench.synthetic.encode import jpeg, png_rgb, tiff_rgb
from rrsis_bench.synthetic.scene import compose

FORMATS = {"rrsis-d": "jpeg", "nwpu-refer": "jpeg", "refsegrs": "tiff", "phrase": "png"}
IMAGE_DIRS = {
    "rrsis-d": "images/rrsisd/JPEGImages",
    "nwpu-refer": "image/image",
    "refsegrs": "RefSegRS/images",
    "phrase": "RISBench_dataset/img_rgb",
}
ENCODERS = {"jpeg": jpeg, "tiff": tiff_rgb, "png": png_rgb}


_SCENE: dict[int, np.ndarray] = {}


def _encode_and_write(args: tuple[str, int, str, int]) -> int:
    fmt, size, folder, start = args
    if size not in _SCENE:  # rendered once per process, outside the timed loop's cost per image
        _SCENE[size] = compose(RRSISD_CATEGORIES, np.random.default_rng(0), size, size).image
    for i in range(start, start + 16):
        Path(folder, f"{i}.{fmt}").write_bytes(ENCODERS[fmt](_SCENE[size]))
    return 16


def floor(fmt: str, n: int, size: int, num_proc: int, folder: Path) -> float:
    """Seconds to encode and write ``n`` images of one scene (batches of 16 per task)."""
    folder.mkdir(parents=True)
    jobs = [(fmt, size, str(folder), s) for s in range(0, n, 16)]
    t0 = time.perf_counter()
    if num_proc > 1:
        with ProcessPoolExecutor(num_proc) as pool:
            done = sum(pool.map(_encode_and_write, jobs))
    else:
        done = sum(map(_encode_and_write, jobs))
    return (time.perf_counter() - t0) * n / done


def _cpu() -> float:
    """CPU seconds of this process and of its finished child processes."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--num-proc", type=int, default=2)
    ap.add_argument("--layouts", default="rrsis-d,nwpu-refer,refsegrs,phrase")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print(
        f"cpus={os.cpu_count()} images={args.images} size={args.size} num_proc={args.num_proc} "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'layout':<11} {'format':<6} {'scenes/s':>8} {'files/s':>7} {'floor/s':>7} "
        f"{'ratio':>6} {'cpu ms/scene':>12} {'image files':>11} {'MB':>7}"
    )
    tmp = Path(tempfile.mkdtemp(prefix="rrsis-synth-bench-"))
    try:
        for layout in args.layouts.split(","):
            fmt = FORMATS[layout]
            t0, c0 = time.perf_counter(), _cpu()
            generate(
                layout,
                tmp / layout,
                n_images=args.images,
                size=args.size,
                seed=args.seed,
                num_proc=args.num_proc,
                progress=False,
            )
            t_synth, cpu = time.perf_counter() - t0, _cpu() - c0
            files = [p for p in (tmp / layout).rglob("*") if p.is_file()]
            mb = sum(p.stat().st_size for p in files) / 1e6
            n_images = len(list((tmp / layout / IMAGE_DIRS[layout]).iterdir()))
            t_floor = floor(fmt, args.images, args.size, args.num_proc, tmp / f"floor-{layout}")
            print(
                f"{layout:<11} {fmt:<6} {args.images / t_synth:>8.1f} {n_images / t_synth:>7.1f} "
                f"{args.images / t_floor:>7.1f} {t_synth / t_floor:>6.2f} "
                f"{1000 * cpu / args.images:>12.1f} {n_images:>11} {mb:>7.1f}"
            )
            shutil.rmtree(tmp / layout)
            shutil.rmtree(tmp / f"floor-{layout}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
