"""Interop commands: ``export``, ``publish``, ``show``."""

from __future__ import annotations

import json
import random
import warnings
from pathlib import Path
from typing import Annotated

import typer

from rrsis_bench.cli.common import DebugOpt, QuietOpt, app, console, err_console, handle_errors

DatasetArg = Annotated[str, typer.Argument(help="Dataset name or built folder.")]


@app.command()
@handle_errors
def export(
    dataset: DatasetArg,
    out: Annotated[Path, typer.Option("--out", help="The export folder (created).")],
    format: Annotated[
        str | None, typer.Option("--format", help="refer, grefer or coco (implied by --as).")
    ] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            "--as", help="rrsisd, refcoco or grefcoco: the names and paths that reader hard-codes."
        ),
    ] = None,
    split: Annotated[
        list[str] | None, typer.Option("--split", help="Split to export (repeatable; default all).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Dataset folder name inside the export.")
    ] = None,
    segmentation: Annotated[
        str | None,
        typer.Option("--segmentation", help="rle or polygon (default rle; polygon for grefer)."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an earlier export.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Export a built dataset as REFER, gRefCOCO or COCO files for existing model code."""
    from rrsis_bench.export import export as run_export

    if format is None and preset is None:
        raise typer.BadParameter("give --format refer|grefer|coco or --as rrsisd|refcoco|grefcoco")
    result = run_export(
        dataset,
        format,
        out,
        preset=preset,
        splits=split,
        name=name,
        segmentation=segmentation,
        overwrite=overwrite,
    )
    if as_json:
        console.print_json(json.dumps({"path": str(result.path), **result.to_dict()}))
        return
    for s, c in result.counts.items():
        err_console.print(
            f"{s}: {c['images']:,} images, {c['refs']:,} refs, {c['sentences']:,} sentences",
            markup=False,
        )
    err_console.print(f"annotations: {result.annotations:,}", markup=False)
    for note in result.notes:
        err_console.print(f"note: {note}", markup=False)
    console.print(str(result.path), markup=False)


@app.command()
@handle_errors
def publish(
    datasets: Annotated[list[str], typer.Argument(help="Dataset names or built folders.")],
    repo_id: Annotated[str, typer.Option("--repo-id", help="ORG/NAME on the Hugging Face Hub.")],
    dry_run: Annotated[
        Path | None,
        typer.Option("--dry-run", help="Write the repository to this folder; upload nothing."),
    ] = None,
    licence_confirmed: Annotated[
        list[str] | None,
        typer.Option(
            "--licence-confirmed",
            help="SPDX id for a dataset of unknown licence (SPDX, or DATASET=SPDX; repeatable).",
        ),
    ] = None,
    private: Annotated[
        bool, typer.Option("--private", help="Create a private repository.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an earlier --dry-run folder.")
    ] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Publish built datasets as one Hub repository, one config per dataset."""
    from rrsis_bench.publish import publish as run_publish

    result = run_publish(
        datasets,
        repo_id,
        dry_run=dry_run,
        licence_confirmed=licence_confirmed,
        private=private,
        overwrite=overwrite,
    )
    for c in result.configs:
        counts = ", ".join(f"{s} {v['images']:,} images" for s, v in c.splits.items())
        how = " (confirmed by you)" if c.licence_confirmed else ""
        err_console.print(f"{c.config}: licence {c.licence}{how}; {counts}", markup=False)
    if result.path is not None:
        err_console.print(
            f'dry run: nothing uploaded; load with datasets.load_dataset("{result.path}", '
            f'"{result.configs[0].config}")',
            markup=False,
        )
        console.print(str(result.path), markup=False)
    else:
        console.print(f"https://huggingface.co/datasets/{result.repo_id}", markup=False)


@app.command()
@handle_errors
def show(
    out: Annotated[Path, typer.Option("--out", help="The PNG (or PDF, SVG) to write.")],
    dataset: Annotated[
        str | None, typer.Argument(help="Dataset name or built folder (not with --report).")
    ] = None,
    sample: Annotated[str | None, typer.Option("--sample", help="Sample id to show.")] = None,
    pred: Annotated[
        Path | None,
        typer.Option("--pred", help="Prediction: PNG, folder of PNGs, predictions.jsonl, or JSON."),
    ] = None,
    grid: Annotated[
        int | None, typer.Option("--grid", min=1, help="A contact sheet of N expressions.")
    ] = None,
    split: Annotated[str | None, typer.Option("--split", help="Split (default all).")] = None,
    target_type: Annotated[
        list[str] | None, typer.Option("--target-type", help="Only these target types (grid).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Which expressions the grid shows.")] = 0,
    report: Annotated[
        Path | None, typer.Option("--report", help="Plot a `score --json` report instead.")
    ] = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Draw a sample (with a prediction), a contact sheet, or a score report."""
    from rrsis_bench import viz

    if report is not None:
        fig = viz.plot_score_report(json.loads(report.read_text(encoding="utf-8")))
    else:
        if dataset is None:
            raise typer.BadParameter("name a DATASET (or give --report)")
        if (sample is None) == (grid is None):
            raise typer.BadParameter("give exactly one of --sample ID and --grid N")
        from rrsis_bench.expressions import ExpressionView

        view = ExpressionView(dataset, split, target_types=target_type)
        if sample is not None:
            item = view.by_sample_id(sample)
            prediction = (
                viz.read_prediction(pred, sample, item.mask.shape) if pred is not None else None
            )
            fig = viz.plot_sample(item, prediction)
        else:
            assert grid is not None  # exactly one of sample and grid
            if not len(view):
                raise typer.BadParameter("no expression matches the filters")
            picks = sorted(random.Random(seed).sample(range(len(view)), min(grid, len(view))))
            fig = viz.plot_grid([view[i] for i in picks], ncols=min(4, len(picks)))
    out.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(out, dpi=100)
    if any("missing from font" in str(w.message) for w in caught):
        err_console.print(
            "note: some characters have no glyph in the installed fonts; install a CJK font "
            "(e.g. Noto Sans CJK) to draw Chinese text",
            markup=False,
        )
    console.print(str(out), markup=False)
