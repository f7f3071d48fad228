"""Loading speed and the cache-copy measurement.

1. Expressions per second through ``RRSISDataset`` + ``DataLoader(num_workers=2)`` at 800x800,
   compared in the same run with merely decoding the same images (one decode per expression,
   as the dataset does) in 2 processes. Target: >= 0.8x that floor. Measured in dataset order,
   shuffled (random access reads one image's byte range, not a row group), in order with the
   workers' reused shared-memory blocks turned off (every batch in fresh shared memory, as
   torch's ``default_collate`` does), and handing nothing back.
2. ``datasets.load_dataset(<build>)`` versus ``rrsis_bench.load(<build>)``: bytes written to the
   Hugging Face cache, wall time and resident memory, each in a fresh process.

Run: ``.venv/bin/python bench/load.py [--images 300] [--batch-size 8] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from rrsis_bench import masks
from rrsis_bench.card import CardInfo
from rrsis_bench.schema import ExpressionRecord, ImageRecord, ObjectRecord, Provenance
from rrsis_bench.store import BuildInputs, write_dataset
from rrsis_bench.validate import Report

SIZE = 800


def _aerial_like(rng: np.random.Generator) -> bytes:
    """A smooth, textured 800x800 RGB JPEG (about the size of an RRSIS-D tile)."""
    coarse = rng.integers(40, 200, size=(25, 25, 3), dtype=np.uint8)
    img = Image.fromarray(coarse).resize((SIZE, SIZE), Image.Resampling.BICUBIC)
    noise = rng.normal(0, 12, size=(SIZE, SIZE, 3))
    arr = np.clip(np.asarray(img, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def make_build(root: Path, n_images: int, seed: int = 0) -> tuple[Path, list[Path], int]:
    rng = np.random.default_rng(seed)
    raw = root / "raw"
    raw.mkdir(parents=True)
    records: list[ImageRecord] = []
    paths: list[Path] = []
    n_expr = 0
    for i in range(n_images):
        data = _aerial_like(rng)
        path = raw / f"{i:05d}.jpg"
        path.write_bytes(data)
        m = np.zeros((SIZE, SIZE), np.uint8)
        y, x = rng.integers(0, SIZE - 200, 2)
        m[y : y + 150, x : x + 180] = 1
        rle = masks.encode(m)
        obj = ObjectRecord("1", "vehicle", 1, masks.bbox(rle), rle, masks.area(rle))
        exprs = [
            ExpressionRecord(
                f"{i}-{k}",
                f"the vehicle number {k}",
                "single",
                str(i),
                ["1"],
                ["vehicle"],
                rle,
                masks.area(rle),
                Provenance("refs"),
            )
            for k in (1, 2)
        ]
        n_expr += len(exprs)
        records.append(
            ImageRecord(str(i), "train", path.name, path, SIZE, SIZE, [obj], exprs, len(data))
        )
        paths.extend([path] * len(exprs))
    card = CardInfo("bench", "bench", "CC-BY-4.0", "", "", "", "")
    inputs = BuildInputs("bench", "bench", "1", card, {}, {})
    out = write_dataset(root / "built", records, inputs, Report("bench"), progress=False)
    return out, paths, n_expr


def _decode(path: str) -> int:
    with Image.open(path) as im:
        return int(np.asarray(im.convert("RGB")).shape[0])


def _cpu(who: int | None = None) -> float:
    """CPU seconds of this process plus its finished children (user + system); ``who`` picks one."""
    total = 0.0
    for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) if who is None else (who,):
        r = resource.getrusage(w)
        total += r.ru_utime + r.ru_stime
    return total


def decode_once(paths: list[Path]) -> tuple[float, float, float]:
    """(wall, CPU, main-process CPU) seconds to merely decode each expression's image once in
    2 new processes."""
    c, m, t = _cpu(), _cpu(resource.RUSAGE_SELF), time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_decode, [str(p) for p in paths], chunksize=8))
    return time.perf_counter() - t, _cpu() - c, _cpu(resource.RUSAGE_SELF) - m


def torch_once(
    ds: object, batch_size: int, shuffle: bool, seed: int, slots: int = 8
) -> tuple[float, float, float]:
    """(wall, CPU, main-process CPU) seconds for one pass of a 2-worker DataLoader (workers
    started inside). ``slots=0`` turns off the workers' reused shared-memory blocks, so every
    batch goes through fresh shared memory as with ``default_collate``."""
    import torch
    from torch.utils.data import DataLoader

    from rrsis_bench import torch_data
    from rrsis_bench.torch_data import collate

    torch_data._MAX_SLOTS = slots  # read by the forked workers

    c, m, t = _cpu(), _cpu(resource.RUSAGE_SELF), time.perf_counter()
    loader = DataLoader(
        ds,  # type: ignore[arg-type]
        batch_size=batch_size,
        num_workers=2,
        collate_fn=collate,
        shuffle=shuffle,
        generator=torch.Generator().manual_seed(seed),
    )
    n = sum(len(b["sample_id"]) for b in loader)
    del loader  # joins the workers, so their CPU time is counted
    assert n == len(ds)  # type: ignore[arg-type]
    return time.perf_counter() - t, _cpu() - c, _cpu(resource.RUSAGE_SELF) - m


class DecodeOnly:
    """The same dataset, decoding each image in the workers but handing nothing back."""

    def __init__(self, ds: object):
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict[str, str]:
        from rrsis_bench.torch_data import _decode_rgb

        view = self.ds.view  # type: ignore[attr-defined]
        _decode_rgb(view[i].image_bytes)
        return {"sample_id": view[i].sample_id}


def rates(
    build: Path, paths: list[Path], batch_size: int, repeat: int
) -> dict[str, tuple[float, float, float]]:
    """Per run: (expressions/s, CPU ms per expression, of which in the main process), each the
    best of ``repeat`` rounds.

    The three runs alternate within each round, so load from other processes on the machine
    hits them alike; CPU time per expression is the figure least moved by such load.
    """
    from rrsis_bench.torch_data import RRSISDataset

    ds = RRSISDataset(build, "train")
    keys = ("floor", "ordered", "shuffled", "fresh", "decode_only")
    wall = dict.fromkeys(keys, float("inf"))
    cpu = dict(wall)
    main = dict(wall)
    for r in range(repeat):
        for key, (w, c, m) in (
            ("floor", decode_once(paths)),
            ("ordered", torch_once(ds, batch_size, False, r)),
            ("shuffled", torch_once(ds, batch_size, True, r)),
            ("fresh", torch_once(ds, batch_size, False, r, slots=0)),
            ("decode_only", torch_once(DecodeOnly(ds), batch_size, False, r)),
        ):
            wall[key] = min(wall[key], w)
            cpu[key] = min(cpu[key], c)
            main[key] = min(main[key], m)
    n = len(paths)
    return {k: (n / wall[k], 1000 * cpu[k] / n, 1000 * main[k] / n) for k in wall}


_PROBE = """
import json, os, resource, sys, time
from pathlib import Path
build, cache, how = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
import datasets, rrsis_bench
def rss():
    return int(open('/proc/self/status').read().split('RssAnon:')[1].split()[0]) * 1024
before = rss()
t = time.perf_counter()
if how == 'load_dataset':
    ds = datasets.load_dataset(build, split='train', cache_dir=str(cache))
else:
    datasets.config.HF_DATASETS_CACHE = cache
    ds = rrsis_bench.load(build, 'train')
n = sum(1 for _ in ds.select_columns(['image_id']))
img = ds[len(ds) // 2]['image'].size
elapsed = time.perf_counter() - t
written = sum(p.stat().st_size for p in cache.rglob('*') if p.is_file()) if cache.exists() else 0
import pyarrow as pa
print(json.dumps({'rows': n, 'seconds': elapsed, 'cache_bytes': written,
                  'rss_growth': rss() - before, 'arrow_bytes': pa.total_allocated_bytes(),
                  'image': img}))
"""


def cache_probe(build: Path, how: str, tmp: Path) -> dict:
    cache = tmp / f"cache-{how}"
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, str(build), str(cache), how],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        build, paths, n_expr = make_build(tmp, args.images)
        shard_bytes = sum(p.stat().st_size for p in (build / "data").glob("*.parquet"))
        print(
            f"build: {args.images} images {SIZE}x{SIZE}, {n_expr} expressions, "
            f"shards {shard_bytes / 2**20:.1f} MiB; batch size {args.batch_size}; "
            f"best of {args.repeat}; cpus {os.cpu_count()}"
        )
        r = rates(build, paths, args.batch_size, args.repeat)
        floor_rate, floor_cpu, _ = r["floor"]
        for key, label in (
            ("floor", "decode only, 2 processes"),
            ("ordered", "RRSISDataset, 2 workers, in order"),
            ("shuffled", "RRSISDataset, 2 workers, shuffled"),
            ("fresh", "in order, fresh shared memory"),
            ("decode_only", "same loader, nothing handed back"),
        ):
            rate, cpu, main_cpu = r[key]
            print(
                f"{label:34s} {rate:7.1f} expressions/s ({rate / floor_rate:.2f}x floor); "
                f"{cpu:6.2f} CPU ms/expression ({floor_cpu / cpu:.2f}x floor), "
                f"{main_cpu:4.2f} of them in the main process"
            )
        for how in ("load_dataset", "rrsis_bench.load"):
            p = cache_probe(build, how, tmp)
            print(
                f"{how:17s}: {p['rows']} rows in {p['seconds']:.2f} s; cache written "
                f"{p['cache_bytes'] / 2**20:.1f} MiB; Arrow memory {p['arrow_bytes'] / 2**20:.1f} MiB; "
                f"anonymous memory growth {p['rss_growth'] / 2**20:.1f} MiB"
            )


if __name__ == "__main__":
    main()
