"""The end-to-end demo: synthetic release → inspect → build → validate → predict → score → report.

:func:`run_demo` generates a small synthetic release in the NWPU-Refer layout (single-, multi-
and no-target expressions in English and Chinese), inspects and builds it like a downloaded
release, validates it, runs the three reference predictors (:mod:`rrsis_bench.predictors`) on
``val`` and ``test``, scores them under the ``native`` protocol with breakdowns by target type
and category and bootstrap intervals, and writes a report folder::

    <out>/raw/                     the synthetic release (new_refs(unc).p, new_instances.json, image/image/)
    <out>/inspect.txt              what `rrsis-bench inspect` says about it
    <out>/built/                   the built dataset (parquet shards, manifest, card, validation.json)
    <out>/validation.txt           the validation summary
    <out>/predictions/<predictor>/<split>/predictions.jsonl
    <out>/report/scores.md         score tables (markdown)
    <out>/report/scores.json       every score report (schema rrsis-bench/score/1) and the fitted prior
    <out>/report/contact_sheet.png samples with ground truth and category-prior predictions
    <out>/report/plots/<predictor>-<split>.png   the visualisation module's score plots
    <out>/demo.json                what was run, where every file is, how long each step took

Example:
    >>> from rrsis_bench.demo import run_demo          # doctest: +SKIP
    >>> result = run_demo("demo-output")               # doctest: +SKIP
    >>> for line in result.summary_lines(): print(line)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rrsis_bench import __version__
from rrsis_bench.demo_report import contact_sheet, save_png, scores_markdown
from rrsis_bench.errors import OutputExistsError
from rrsis_bench.predictors import PREDICTORS, CategoryPrior, run_predictor
from rrsis_bench.schema import TARGET_TYPES

MARKER = "demo.json"
DEMO_SPLITS = ("val", "test")
CONTACT_TYPES = ("single", "single", "multi", "multi", "none", "single", "multi", "none")


@dataclass
class DemoResult:
    """What :func:`run_demo` produced.

    Attributes:
        out: The demo folder.
        files: Label → path of every file or folder it wrote.
        scores: ``{split: {predictor: score report JSON}}``.
        prior: The fitted category prior (:meth:`CategoryPrior.summary`).
        counts: Expressions per split and target type in the build.
        validation: Findings per severity.
        timings: Seconds per step.
    """

    out: Path
    files: dict[str, Path] = field(default_factory=dict)
    scores: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    prior: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    validation: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        """A short human summary: the test scores and where every file is."""
        lines = []
        for split, by_pred in self.scores.items():
            parts = [
                f"{p} oIoU {_pct(r['metrics'].get('oiou'))} mIoU {_pct(r['metrics'].get('miou'))}"
                for p, r in by_pred.items()
            ]
            lines.append(f"{split}: " + "; ".join(parts))
        lines.append(f"total {sum(self.timings.values()):.1f} s")
        width = max(len(k) for k in self.files)
        lines += [f"{k:<{width}}  {v}" for k, v in self.files.items()]
        return lines


def _pct(v: Any) -> str:
    return "–" if v is None else f"{float(v):.2f}"


def check_output(out: str | Path) -> Path:
    """Fail, before any work, unless ``out`` is absent, empty or an earlier demo.

    Returns:
        ``out`` as an absolute path.

    Raises:
        OutputExistsError: ``out`` is a file, or a folder that is not empty and holds no
            :data:`MARKER` (it is never replaced).
    """
    out = Path(out).expanduser().absolute()
    if out.exists() and not out.is_dir():
        raise OutputExistsError(
            f"{out} exists and is not a folder; choose another --out (it is never replaced)"
        )
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise OutputExistsError(
            f"{out} exists and is not a demo folder (no {MARKER}); choose another --out"
        )
    return out


@contextmanager
def _replacing(out: Path) -> Iterator[Path]:
    """Write into ``out`` in place; an earlier demo there is set aside and restored on failure."""
    check_output(out)
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(out, old)
    out.mkdir(parents=True)
    try:
        yield out
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_demo(
    out: str | Path = "demo-output",
    *,
    images: int = 90,
    size: int = 384,
    seed: int = 0,
    num_proc: int = 2,
    n_boot: int = 1000,
    samples: int = 8,
    progress: bool | None = None,
) -> DemoResult:
    """Run the whole pipeline on a synthetic NWPU-Refer-layout release.

    Args:
        out: Demo folder; an earlier demo there is replaced, anything else is refused.
        images: Synthetic images (split 60/20/20 into train/val/test).
        size: Image side in pixels.
        seed: Seed of the synthetic data and of the bootstrap.
        num_proc: Processes for generation, building and scoring.
        n_boot: Bootstrap replicates of the 95% intervals.
        samples: Expressions on the contact sheet.
        progress: Show progress bars.

    Raises:
        OutputExistsError: ``out`` holds something that is not a demo (see
            :func:`check_output`).
    """
    from rrsis_bench.builders import build, validate
    from rrsis_bench.builders.inspect import inspect_raw
    from rrsis_bench.scoring import score
    from rrsis_bench.synthetic import generate

    out = check_output(out)
    result = DemoResult(out)
    clock = time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        result.timings[name] = round(now - clock, 3)
        clock = now

    with _replacing(out):
        raw = generate(
            "nwpu-refer",
            out / "raw",
            n_images=images,
            size=size,
            seed=seed,
            num_proc=num_proc,
            progress=progress,
        )
        result.files["raw release"] = raw.root
        step("generate")
        inspection = inspect_raw(raw.root)
        _write_lines(out / "inspect.txt", inspection.summary_lines())
        result.files["inspection"] = out / "inspect.txt"
        step("inspect")
        built = build("nwpu-refer", raw.root, out / "built", num_proc=num_proc, progress=progress)
        assert built.path is not None
        result.files["built dataset"] = built.path
        result.counts = built.counts
        step("build")
        checked = validate("nwpu-refer", raw.root, num_proc=num_proc, progress=progress)
        _write_lines(out / "validation.txt", checked.report.summary_lines(examples=3))
        result.validation = checked.report.counts_by_severity()
        result.files["validation"] = out / "validation.txt"
        step("validate")

        prior = CategoryPrior.fit(built.path)
        result.prior = prior.summary()
        pred_paths: dict[str, dict[str, Path]] = {}
        for name in PREDICTORS:
            pred_paths[name] = run_predictor(
                name, built.path, DEMO_SPLITS, out / "predictions" / name, prior=prior
            )
            result.files[f"predictions {name}"] = out / "predictions" / name
        step("predict")

        for split in DEMO_SPLITS:
            result.scores[split] = {}
            for name in PREDICTORS:
                report = score(
                    pred_paths[name][split],
                    built.path,
                    split,
                    "native",
                    by=("target_type", "category", "size"),
                    n_boot=n_boot,
                    seed=seed,
                    num_proc=num_proc,
                    progress=progress,
                )
                result.scores[split][name] = report.to_json()
        step("score")

        _write_report(result, out / "report", prior, pred_paths, built.path, raw, samples)
        step("report")
        (out / MARKER).write_text(json.dumps(_marker(result, images, size, seed), indent=2) + "\n")
        result.files["demo summary"] = out / MARKER
    return result


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_report(
    result: DemoResult,
    folder: Path,
    prior: CategoryPrior,
    pred_paths: dict[str, dict[str, Path]],
    built: Path,
    raw: Any,
    samples: int,
) -> None:
    from rrsis_bench.viz import plot_score_report

    (folder / "plots").mkdir(parents=True)
    intro = [
        f"{raw.n_images} synthetic images of {raw.size}×{raw.size} px in the NWPU-Refer layout "
        f"(seed {raw.seed}), built with `rrsis-bench build nwpu-refer`.",
        "Expressions per split: "
        + "; ".join(
            f"{s}: {c['expressions']} ({c['single']} single / {c['multi']} multi / {c['none']} none)"
            for s, c in result.counts.items()
        )
        + ".",
        f"Validation: {result.validation.get('error', 0)} errors, "
        f"{result.validation.get('warning', 0)} warnings, {result.validation.get('info', 0)} info "
        "(see ../validation.txt).",
    ]
    (folder / "scores.md").write_text(
        scores_markdown(result.scores, intro, result.prior), encoding="utf-8"
    )
    payload = {"category_prior": result.prior, "scores": result.scores}
    (folder / "scores.json").write_text(
        json.dumps(payload, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8"
    )
    result.files["score tables"] = folder / "scores.md"
    result.files["score reports"] = folder / "scores.json"
    for split, by_pred in result.scores.items():
        for name, rep in by_pred.items():
            fig = plot_score_report(rep)
            path = folder / "plots" / f"{name}-{split}.png"
            fig.savefig(path, dpi=90)
    result.files["plots"] = folder / "plots"
    chosen = pick_samples(built, "test", samples)
    preds = _read_predictions(
        pred_paths["category-prior"]["test"], {s["sample_id"] for s in chosen}
    )
    fig = contact_sheet(chosen, preds)
    save_png(fig, folder / "contact_sheet.png", dpi=60, colours=128)
    result.files["contact sheet"] = folder / "contact_sheet.png"


def pick_samples(built: Path, split: str, n: int) -> list[dict[str, Any]]:
    """English expressions of ``split`` for the contact sheet (deterministic).

    The target types follow :data:`CONTACT_TYPES`; at most one expression per image and no
    sentence twice, in the build's order.
    """
    from rrsis_bench.store import open_dataset

    wanted = list(CONTACT_TYPES) * (n // len(CONTACT_TYPES) + 1)
    wanted = wanted[:n]
    chosen: list[dict[str, Any]] = []
    texts: set[str] = set()
    ds = open_dataset(built)
    for row in ds.iter_rows(split, columns=["image", "expressions"], batch_size=16):
        for e in row["expressions"]:
            ttype = TARGET_TYPES[e["target_type"]]
            if e["language"] == "en" and ttype in wanted and e["text"] not in texts:
                wanted.remove(ttype)
                texts.add(e["text"])
                chosen.append(
                    {
                        "image": row["image"]["bytes"],
                        "sample_id": e["sample_id"],
                        "text": e["text"],
                        "target_type": ttype,
                        "mask": e["mask"],
                    }
                )
                break
        if not wanted:
            break
    return chosen


def _read_predictions(path: Path, ids: set[str]) -> dict[str, tuple[Any, bool]]:
    out: dict[str, tuple[Any, bool]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            if rec["sample_id"] in ids:
                out[rec["sample_id"]] = (rec["mask"], bool(rec.get("no_target", False)))
    return out


def _marker(result: DemoResult, images: int, size: int, seed: int) -> dict[str, Any]:
    return {
        "schema": "rrsis-bench/demo/1",
        "toolkit_version": __version__,
        "settings": {"layout": "nwpu-refer", "images": images, "size": size, "seed": seed},
        "counts": result.counts,
        "validation": result.validation,
        "files": {k: str(v.relative_to(result.out)) for k, v in result.files.items()},
        "timings_s": result.timings,
        "test": {
            p: {k: r["metrics"].get(k) for k in ("oiou", "miou", "n_acc", "t_acc")}
            for p, r in result.scores.get("test", {}).items()
        },
    }
