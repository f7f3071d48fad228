"""Build speed and memory of the REFER-family builders against the floor of reading the images.

Generates, under a temporary folder, an RRSIS-D-shaped release (800×800 JPEGs, REFER layout,
one RLE per image, ``[x1, y1, x2, y2]`` boxes) and an NWPU-Refer-shaped one (2048×2048 JPEGs,
``new_refs(unc).p``, polygons, multi- and no-target refs, English and Chinese sentences). For
each, in the same process and with the same number of processes, it times

* the floor: read every image, sha256 it and parse its header (``rrsis_bench.images.scan_file``
  in a pool of ``--num-proc`` processes), the least any build must do;
* the build: ``rrsis_bench.builders.build(..., num_proc=--num-proc)`` (read, validate, write
  parquet shards, manifest, card).

and prints build / floor (target ≤ 2×). Peak RSS (the builder process and, separately, the
largest worker) is measured in a fresh process at two release sizes and set against the size of
the annotation files (target: a constant plus a small multiple of the annotation size).

    .venv/bin/python bench/build.py                       # 2,000 + 500 images, --num-proc 2
    .venv/bin/python bench/build.py --rrsisd 400 --nwpu 100   # quick run
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import pickle
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask

from rrsis_bench.builders import build
from rrsis_bench.images import scan_file

NWPU_NAMES = ["car", "ship", "building", "airplane", "bridge", "storage tank", "pool", "no target"]


def _texture(size: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
    img = np.asarray(Image.fromarray(base).resize((size, size), Image.Resampling.BILINEAR))
    noise = rng.normal(0, 8, img.shape).astype(np.int16)
    return np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)


def _write_jpegs(args: tuple[list[tuple[Path, int]], int, int]) -> None:
    jobs, size, seed = args
    base = _texture(size, seed)
    for path, k in jobs:
        shifted = np.roll(base, (k * 37) % size, axis=(k % 2))
        shifted = (shifted.astype(np.int16) + (k % 23) - 11).clip(0, 255).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(shifted).save(buf, "JPEG", quality=90)
        path.write_bytes(buf.getvalue())


def _jpegs(paths: list[Path], size: int, num_proc: int) -> None:
    jobs = [(p, k) for k, p in enumerate(paths)]
    chunks = [(jobs[i::num_proc], size, i) for i in range(num_proc)]
    with ProcessPoolExecutor(num_proc) as pool:
        list(pool.map(_write_jpegs, chunks))


def _rle(mask: np.ndarray) -> dict:
    r = coco_mask.encode(np.asfortranarray(mask))
    return {"size": [int(r["size"][0]), int(r["size"][1])], "counts": r["counts"].decode()}


def make_rrsisd(root: Path, n: int, num_proc: int) -> list[Path]:
    """An RRSIS-D-shaped release with ``n`` 800×800 images; returns the image paths."""
    rng = np.random.default_rng(0)
    img_dir = root / "images" / "rrsisd" / "JPEGImages"
    img_dir.mkdir(parents=True)
    refs, images, anns = [], [], []
    yy, xx = np.mgrid[0:800, 0:800]
    paths = []
    for k in range(n):
        iid = 3 + 7 * k  # non-contiguous ids
        fname = f"{iid:05d}.jpg"
        paths.append(img_dir / fname)
        cx, cy = rng.integers(100, 700, 2)
        rx, ry = rng.integers(8, 90, 2)
        m = (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1).astype(np.uint8)
        x1, y1, x2, y2 = int(cx - rx), int(cy - ry), int(cx + rx), int(cy + ry)
        split = (
            "train",
            "train",
            "train",
            "train",
            "train",
            "train",
            "train",
            "val",
            "test",
            "test",
        )[k % 10]
        images.append({"file_name": fname, "height": 800, "width": 800, "id": iid})
        anns.append(
            {
                "bbox": [x1, y1, x2, y2],
                "categories_id": int(k % 20),
                "id": iid,
                "image_id": iid,
                "segmentation": [_rle(m)],
                "area": int(m.sum()) * 211,
            }
        )
        sent = f"The object number {k} on the {'left' if cx < 400 else 'right'}"
        refs.append(
            {
                "image_id": iid,
                "split": split,
                "sentences": [{"tokens": sent.split(), "raw": sent, "sent_id": iid, "sent": sent}],
                "file_name": fname,
                "category_id": int(k % 20),
                "ann_id": iid,
                "sent_ids": [iid],
                "ref_id": iid,
            }
        )
    (root / "rrsisd").mkdir()
    (root / "rrsisd" / "refs(unc).p").write_bytes(pickle.dumps(refs, protocol=2))
    cats = [{"name": f"class{i}", "id": i} for i in range(20)]
    (root / "rrsisd" / "instances.json").write_text(
        json.dumps({"images": images, "annotations": anns, "categories": cats})
    )
    _jpegs(paths, 800, num_proc)
    return paths


def _polygon(rng: np.random.Generator, size: int) -> list[float]:
    cx, cy = rng.uniform(150, size - 150, 2)
    r = rng.uniform(20, 120)
    angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(6, 16))))
    radii = r * rng.uniform(0.6, 1.0, len(angles))
    pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], 1)
    return [round(float(v), 1) for v in pts.flatten()]


def make_nwpu(root: Path, n: int, num_proc: int) -> list[Path]:
    """An NWPU-Refer-shaped release with ``n`` 2048×2048 images and ~3.3 targets per image."""
    rng = np.random.default_rng(1)
    img_dir = root / "image" / "image"
    img_dir.mkdir(parents=True)
    refs, images, anns = [], [], []
    paths = []
    ann_id = ref_id = sent_id = 1
    for k in range(n):
        iid = k + 1
        fname = f"{iid:05d}.jpg"
        paths.append(img_dir / fname)
        images.append({"id": iid, "file_name": fname, "width": 2048, "height": 2048})
        split = (
            "train",
            "train",
            "train",
            "train",
            "train",
            "train",
            "train",
            "val",
            "test",
            "test",
        )[k % 10]
        n_targets = int(rng.integers(1, 6))
        cat = int(rng.integers(1, len(NWPU_NAMES)))
        group = []
        for _ in range(n_targets):
            poly = _polygon(rng, 2048)
            xs, ys = poly[0::2], poly[1::2]
            anns.append(
                {
                    "id": ann_id,
                    "image_id": iid,
                    "category_id": cat,
                    "segmentation": [poly],
                    "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)],
                }
            )
            group.append(ann_id)
            ann_id += 1
        name = NWPU_NAMES[cat - 1]
        for a in group:  # a multi-target expression: one ref per target, sharing the sentences
            refs.append(
                {
                    "ref_id": ref_id,
                    "image_id": iid,
                    "ann_id": a,
                    "split": split,
                    "category_id": cat,
                    "sentences": [
                        {"raw": f"all {name}s", "sent": f"all {name}s", "sent_id": sent_id},
                        {"raw": f"所有的{name}", "sent": f"所有的{name}", "sent_id": sent_id + 1},
                    ],
                }
            )
            ref_id += 1
            sent_id += 2
        refs.append(
            {
                "ref_id": ref_id,
                "image_id": iid,
                "ann_id": group[0],
                "split": split,
                "category_id": cat,
                "sentences": [{"raw": f"the {name} number {k}", "sent_id": sent_id}],
            }
        )
        ref_id += 1
        sent_id += 1
        if k % 4 == 0:
            anns.append(
                {
                    "id": ann_id,
                    "image_id": iid,
                    "category_id": len(NWPU_NAMES),
                    "segmentation": [],
                    "bbox": [0, 0, 0, 0],
                }
            )
            refs.append(
                {
                    "ref_id": ref_id,
                    "image_id": iid,
                    "ann_id": ann_id,
                    "split": split,
                    "category_id": len(NWPU_NAMES),
                    "sentences": [{"raw": "the red bus", "sent_id": sent_id}],
                }
            )
            ann_id += 1
            ref_id += 1
            sent_id += 1
    (root / "new_refs(unc).p").write_bytes(pickle.dumps(refs, protocol=2))
    cats = [{"id": i + 1, "name": nm} for i, nm in enumerate(NWPU_NAMES)]
    (root / "new_instances.json").write_text(
        json.dumps({"images": images, "annotations": anns, "categories": cats}, ensure_ascii=False)
    )
    _jpegs(paths, 2048, num_proc)
    return paths


def _scan(path: str) -> str:
    return scan_file(Path(path)).sha256


def floor_seconds(paths: list[Path], num_proc: int) -> float:
    """Read, sha256 and header-parse every image in ``num_proc`` processes."""
    args = [str(p) for p in paths]
    chunk = max(1, min(64, len(args) // (num_proc * 8) or 1))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(num_proc) as pool:
        for _ in pool.map(_scan, args, chunksize=chunk):
            pass
    return time.perf_counter() - t0


def _copy(args: tuple[list[str], str]) -> None:
    paths, dest = args
    h_in, h_out = hashlib.sha256(), hashlib.sha256()
    with open(dest, "wb") as out:
        for p in paths:
            data = Path(p).read_bytes()
            h_in.update(data)
            h_out.update(data)
            out.write(data)
        out.flush()
        os.fsync(out.fileno())


def copy_seconds(paths: list[Path], num_proc: int, dest: Path) -> float:
    """Read and sha256 every image and copy its bytes into one file per process, with fsync.

    The least a build that stores the original bytes must do: the floor, plus the same bytes
    written once to the output disk and hashed there (the manifest hashes every shard).
    """
    dest.mkdir(parents=True, exist_ok=True)
    args = [
        ([str(p) for p in paths[i::num_proc]], str(dest / f"copy-{i}.bin")) for i in range(num_proc)
    ]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(num_proc) as pool:
        list(pool.map(_copy, args))
    elapsed = time.perf_counter() - t0
    shutil.rmtree(dest)
    return elapsed


def build_seconds(dataset: str, raw: Path, out: Path, num_proc: int) -> float:
    t0 = time.perf_counter()
    build(dataset, raw, out, num_proc=num_proc, overwrite=True, progress=False)
    return time.perf_counter() - t0


_RSS_SCRIPT = """
import resource, sys
from rrsis_bench.builders import build
build(sys.argv[1], sys.argv[2], sys.argv[3], num_proc=int(sys.argv[4]), overwrite=True, progress=False)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_rss_mib(dataset: str, raw: Path, out: Path, num_proc: int) -> tuple[float, float]:
    """Peak RSS (MiB) of a fresh builder process and of its largest worker."""
    res = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, dataset, str(raw), str(out), str(num_proc)],
        check=True,
        capture_output=True,
        text=True,
    )
    main, children = res.stdout.split()[-2:]
    return int(main) / 1024, int(children) / 1024


def _subset(src: Path, dst: Path, dataset: str, n_images: int) -> None:
    """A release holding the first ``n_images`` images of ``src`` (hard links, same layout)."""
    if dataset == "rrsis-d":
        refs_p, inst_p, img_rel = (
            Path("rrsisd/refs(unc).p"),
            Path("rrsisd/instances.json"),
            Path("images/rrsisd/JPEGImages"),
        )
    else:
        refs_p, inst_p, img_rel = (
            Path("new_refs(unc).p"),
            Path("new_instances.json"),
            Path("image/image"),
        )
    inst = json.loads((src / inst_p).read_text())
    keep = {im["id"] for im in inst["images"][:n_images]}
    inst["images"] = [im for im in inst["images"] if im["id"] in keep]
    inst["annotations"] = [a for a in inst["annotations"] if a["image_id"] in keep]
    refs = [r for r in pickle.loads((src / refs_p).read_bytes()) if r["image_id"] in keep]
    (dst / img_rel).mkdir(parents=True)
    for im in inst["images"]:
        os.link(src / img_rel / im["file_name"], dst / img_rel / im["file_name"])
    (dst / refs_p).parent.mkdir(parents=True, exist_ok=True)
    (dst / refs_p).write_bytes(pickle.dumps(refs, protocol=2))
    (dst / inst_p).write_text(json.dumps(inst, ensure_ascii=False))


def _annotation_mib(raw: Path, dataset: str) -> float:
    names = (
        ("rrsisd/refs(unc).p", "rrsisd/instances.json")
        if dataset == "rrsis-d"
        else ("new_refs(unc).p", "new_instances.json")
    )
    return sum((raw / n).stat().st_size for n in names) / 2**20


def _image_mib(paths: list[Path]) -> float:
    return sum(p.stat().st_size for p in paths) / 2**20


def _runs(xs: list[float]) -> str:
    return ", ".join(f"{x:.2f}" for x in xs)


def measure(dataset: str, n: int, work: Path, num_proc: int, repeats: int) -> None:
    """Generate one release, time floor, copy and build, and measure peak RSS at two sizes."""
    make = make_rrsisd if dataset == "rrsis-d" else make_nwpu
    raw = work / f"{dataset}-raw"
    t0 = time.perf_counter()
    paths = make(raw, n, num_proc)
    gen = time.perf_counter() - t0
    print(f"\n{dataset}: generated {n:,} images ({_image_mib(paths):,.0f} MiB) in {gen:.0f} s")
    os.sync()  # no dirty pages of the generator left to slow down the timed writes
    floor_seconds(paths, num_proc)  # warm the page cache for every measurement
    floors, copies, builds = [], [], []
    for _ in range(repeats):
        floors.append(floor_seconds(paths, num_proc))
        copies.append(copy_seconds(paths, num_proc, work / "copy"))
        os.sync()
        builds.append(build_seconds(dataset, raw, work / f"{dataset}-out", num_proc))
        os.sync()
    f, c, b = min(floors), min(copies), min(builds)
    print(
        f"  floor (read + sha256 + header, {num_proc} proc):   {f:6.2f} s  (runs: {_runs(floors)})"
    )
    print(f"  copy (floor + write bytes + sha256 + fsync):   {c:6.2f} s  (runs: {_runs(copies)})")
    print(
        f"  build (--num-proc {num_proc}):                       {b:6.2f} s  (runs: {_runs(builds)})"
    )
    print(f"  build / floor = {b / f:.2f}×  (target ≤ 2×); build / copy = {b / c:.2f}×")
    half = work / f"{dataset}-half"
    _subset(raw, half, dataset, n // 2)
    for label, r in ((f"{n // 2:,} images", half), (f"{n:,} images", raw)):
        main_rss, worker_rss = peak_rss_mib(dataset, r, work / f"{dataset}-rss", num_proc)
        ann = _annotation_mib(r, dataset)
        print(
            f"  peak RSS at {label}: builder {main_rss:,.0f} MiB, largest worker "
            f"{worker_rss:,.0f} MiB; annotation files {ann:,.1f} MiB"
        )
    shutil.rmtree(half)
    shutil.rmtree(raw)
    shutil.rmtree(work / f"{dataset}-out", ignore_errors=True)
    shutil.rmtree(work / f"{dataset}-rss", ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rrsisd", type=int, default=2000, help="RRSIS-D-shaped images (800×800)")
    ap.add_argument("--nwpu", type=int, default=500, help="NWPU-Refer-shaped images (2048×2048)")
    ap.add_argument("--num-proc", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2, help="timed runs (the best is kept)")
    ap.add_argument("--workdir", type=Path, default=None, help="default: a temporary folder")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rrsis-bench-build-", dir=args.workdir))
    os.environ["RRSIS_BENCH_HOME"] = str(work / "home")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    try:
        if args.rrsisd:
            measure("rrsis-d", args.rrsisd, work, args.num_proc, args.repeats)
        if args.nwpu:
            measure("nwpu-refer", args.nwpu, work, args.num_proc, args.repeats)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
