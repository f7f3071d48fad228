"""Generating a synthetic release in one of the raw layouts the builders read.

Example:
    >>> from rrsis_bench.synthetic import generate              # doctest: +SKIP
    >>> result = generate("nwpu-refer", "/tmp/nwpu", n_images=30, size=256, seed=0)  # doctest: +SKIP
    >>> result.root, result.counts()                            # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from rrsis_bench.errors import BuildError, OutputExistsError, UnknownNameError
from rrsis_bench.progress import track
from rrsis_bench.synthetic.base import Layout, SceneOutput, SceneTask, TruthExpression, split_plan
from rrsis_bench.synthetic.phrase import RefSegRSLayout, RISBenchLayout
from rrsis_bench.synthetic.refer import NWPUReferLayout, RRSISDLayout

LAYOUTS: dict[str, type[Layout]] = {
    "refsegrs": RefSegRSLayout,
    "rrsis-d": RRSISDLayout,
    "nwpu-refer": NWPUReferLayout,
    "phrase": RISBenchLayout,
}
"""Layout name (``--layout``) to layout class."""

BUILDER_OF_LAYOUT: dict[str, str] = {
    "refsegrs": "refsegrs",
    "rrsis-d": "rrsis-d",
    "nwpu-refer": "nwpu-refer",
    "phrase": "risbench",
}
"""The registered builder that reads each layout."""

MIN_SIZE = 64
MAX_SIZE = 4096
MARKER = ".rrsis-bench-synth.json"
"""The file that marks a folder as a release written by :func:`generate` (layout, size, seed)."""
MARKER_SCHEMA = "rrsis-bench/synth/1"


@dataclass
class SynthResult:
    """A generated release.

    Attributes:
        out: The folder given as ``out``.
        root: The release root (``out`` or its top folder, e.g. ``out/RefSegRS``).
        layout: Layout name.
        builder: The registered builder that reads it.
        seed: The seed used.
        size: Image side in pixels.
        n_images: Distinct scenes generated.
        truth: Every expression with the mask the grammar selected.
    """

    out: Path
    root: Path
    layout: str
    builder: str
    seed: int
    size: int
    n_images: int
    truth: list[TruthExpression]

    def counts(self) -> dict[str, dict[str, int]]:
        """Expressions per split and target type (``{"train": {"single": ..}, ...}``)."""
        out: dict[str, Counter[str]] = {}
        for t in self.truth:
            out.setdefault(t.split, Counter())[t.target_type] += 1
        return {s: dict(sorted(c.items())) for s, c in out.items()}

    def write_truth(self, path: Path, overwrite: bool = False) -> None:
        """Write the truth as JSON Lines (one expression per line, generation order).

        The file is written beside ``path`` and renamed into place when complete; a pipe or a
        device (``/dev/stdout``) is written to directly.

        Raises:
            OutputExistsError: ``path`` exists and ``overwrite`` is false, or is a folder.
        """
        path = Path(path)
        check_truth_output(path, overwrite)
        lines = (
            json.dumps(t.to_json(), ensure_ascii=False, sort_keys=True) + "\n" for t in self.truth
        )
        if path.exists() and not path.is_file():  # a pipe or a device (/dev/stdout): stream
            with open(path, "w", encoding="utf-8") as f:
                f.writelines(lines)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.writelines(lines)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def check_truth_output(path: Path, overwrite: bool) -> None:
    """Fail early unless the truth file ``path`` may be written.

    Raises:
        OutputExistsError: ``path`` is a folder, or a file and ``overwrite`` is false.
    """
    if path.is_dir():
        raise OutputExistsError(f"{path} is a folder; --truth names the JSONL file to write")
    if path.is_file() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass --overwrite to replace it")


def get_layout(name: str) -> Layout:
    """Instantiate a layout by name.

    Raises:
        UnknownNameError: If ``name`` is not a layout.
    """
    key = name.strip().lower()
    if key not in LAYOUTS:
        raise UnknownNameError("layout", name, sorted(LAYOUTS))
    return LAYOUTS[key]()


def check_output(out: Path, overwrite: bool) -> None:
    """Fail unless ``out`` is absent, empty, or (with ``overwrite``) an earlier release.

    Raises:
        OutputExistsError: ``out`` is a file, holds anything but a release written by
            :func:`generate` (no :data:`MARKER`; never replaced), or holds one and
            ``overwrite`` is false.
    """
    if not out.exists():
        return
    if not out.is_dir():
        raise OutputExistsError(
            f"{out} exists and is not a folder; choose another --out (it is never replaced)"
        )
    if not any(out.iterdir()):
        return
    if not (out / MARKER).is_file():
        raise OutputExistsError(
            f"{out} exists and is not a synthetic release written by rrsis-bench synth "
            f"(no {MARKER}); choose another --out (it is never replaced)"
        )
    if not overwrite:
        raise OutputExistsError(
            f"{out} already holds a synthetic release; pass --overwrite to replace it"
        )


def _job(args: tuple[Layout, SceneTask, str]) -> SceneOutput:
    layout, task, root = args
    return layout.scene(task, Path(root))


def generate(
    layout: str,
    out: str | Path,
    *,
    n_images: int = 30,
    size: int | None = None,
    seed: int = 0,
    num_proc: int = 1,
    overwrite: bool = False,
    progress: bool | None = None,
) -> SynthResult:
    """Generate a synthetic release in a raw layout.

    The release is written to a temporary sibling of ``out`` and moved into place only when
    complete; ``out`` also receives :data:`MARKER` (layout, images, size, seed), which
    ``overwrite`` requires of a folder it replaces. The same arguments give byte-identical
    files whatever ``num_proc``.

    Args:
        layout: ``refsegrs``, ``rrsis-d``, ``nwpu-refer`` or ``phrase`` (RISBench).
        out: Folder to create; the release's own top folder (if it has one) goes inside.
        n_images: Distinct scenes (images); at least 3, split 60/20/20 into train/val/test.
        size: Image side in pixels (default: the layout's usual size).
        seed: Seed of everything drawn.
        num_proc: Processes drawing scenes.
        overwrite: Replace an earlier release in ``out`` (one holding :data:`MARKER`).
        progress: Show a progress bar.

    Raises:
        UnknownNameError: Unknown layout.
        ValueError: ``n_images`` below 3, ``size`` outside 64..4096, ``num_proc`` below 1.
        OutputExistsError: ``out`` is not empty and is not an earlier release (never
            replaced), or is one and ``overwrite`` is false.
        BuildError: The output cannot be written.
    """
    lay = get_layout(layout)
    side = int(size if size is not None else lay.default_size)
    if not MIN_SIZE <= side <= MAX_SIZE:
        raise ValueError(
            f"Expected --size between {MIN_SIZE} and {MAX_SIZE} pixels, but got {side}"
        )
    if num_proc < 1:
        raise ValueError(f"Expected --num-proc of at least 1, but got {num_proc}")
    splits = split_plan(n_images)
    out_path = Path(out).expanduser().absolute()
    check_output(out_path, overwrite)
    tmp = out_path.parent / f".{out_path.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        root = tmp / lay.subdir if lay.subdir else tmp
        root.mkdir(parents=True)
        tasks = lay.plan(n_images, splits, seed, side)
        jobs = [(lay, t, str(root)) for t in tasks]
        outputs: list[SceneOutput]
        if num_proc > 1 and len(jobs) > 1:
            chunk = max(1, min(16, len(jobs) // (num_proc * 4)))
            with ProcessPoolExecutor(max_workers=num_proc) as pool:
                outputs = list(
                    track(
                        pool.map(_job, jobs, chunksize=chunk),
                        f"generating {lay.name}",
                        len(jobs),
                        progress,
                    )
                )
        else:
            outputs = [_job(j) for j in track(jobs, f"generating {lay.name}", len(jobs), progress)]
        truth = lay.finish(root, outputs)
        marker = {"layout": lay.name, "images": n_images, "size": side, "seed": seed}
        (tmp / MARKER).write_text(json.dumps({"schema": MARKER_SCHEMA, **marker}) + "\n")
        if out_path.exists():
            old = out_path.parent / f".{out_path.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(out_path, old)
            os.replace(tmp, out_path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_path)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise BuildError(
            f"{exc.filename or out_path}: cannot write the synthetic release "
            f"({exc.strerror or exc}); choose a writable --out with free space"
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    final_root = out_path / lay.subdir if lay.subdir else out_path
    return SynthResult(
        out=out_path,
        root=final_root,
        layout=lay.name,
        builder=BUILDER_OF_LAYOUT[lay.name],
        seed=seed,
        size=side,
        n_images=n_images,
        truth=truth,
    )
