"""Synthetic data and the end-to-end demo: ``synth`` and ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rrsis_bench.cli.common import (
    DebugOpt,
    QuietOpt,
    app,
    console,
    err_console,
    handle_errors,
    print_error,
)
from rrsis_bench.errors import RRSISBenchError

LayoutOpt = Annotated[
    str,
    typer.Option(
        "--layout",
        help="Raw layout to write: refsegrs, rrsis-d, nwpu-refer or phrase (RISBench).",
    ),
]


@app.command()
@handle_errors
def synth(
    layout: LayoutOpt,
    out: Annotated[Path, typer.Option("--out", help="Folder to create for the release.")],
    images: Annotated[
        int, typer.Option("--images", min=3, help="Distinct images (scenes), split 60/20/20.")
    ] = 30,
    size: Annotated[
        int | None,
        typer.Option("--size", help="Image side in pixels (default: the layout's usual size)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed (same seed, same bytes).")] = 0,
    num_proc: Annotated[int, typer.Option("--num-proc", min=1, help="Processes.")] = 1,
    truth: Annotated[
        Path | None,
        typer.Option("--truth", help="Also write every expression's true mask here (JSONL)."),
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Replace an earlier synthetic release in --out (nothing else) and the --truth file.",
        ),
    ] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Generate a synthetic RRSIS release in one of the raw layouts the builders read."""
    from rrsis_bench.synthetic import generate
    from rrsis_bench.synthetic.generate import check_truth_output

    if truth is not None:
        check_truth_output(truth, overwrite)
    try:
        result = generate(
            layout,
            out,
            n_images=images,
            size=size,
            seed=seed,
            num_proc=num_proc,
            overwrite=overwrite,
        )
    except ValueError as exc:
        if isinstance(exc, RRSISBenchError):
            raise
        print_error(str(exc))
        raise typer.Exit(2) from None
    if truth is not None:
        result.write_truth(truth, overwrite=overwrite)
    for split, counts in result.counts().items():
        parts = ", ".join(f"{n:,} {t}" for t, n in counts.items())
        err_console.print(f"{split}: {parts}", markup=False)
    err_console.print(
        f"{result.n_images} images of {result.size}×{result.size} px, layout {result.layout}; "
        f"build it with: rrsis-bench build {result.builder} --raw {result.out}",
        markup=False,
    )
    if truth is not None:
        err_console.print(f"true masks written to {truth}", markup=False)
    console.print(str(result.root), markup=False)


@app.command()
@handle_errors
def demo(
    out: Annotated[
        Path, typer.Option("--out", help="Demo folder (an earlier demo there is replaced).")
    ] = Path("demo-output"),
    images: Annotated[int, typer.Option("--images", min=10, help="Synthetic images.")] = 90,
    size: Annotated[int, typer.Option("--size", min=64, help="Image side in pixels.")] = 384,
    seed: Annotated[int, typer.Option("--seed", help="Seed of data and bootstrap.")] = 0,
    num_proc: Annotated[int, typer.Option("--num-proc", min=1, help="Processes.")] = 2,
    n_boot: Annotated[
        int, typer.Option("--n-boot", min=0, help="Bootstrap replicates (0: no intervals).")
    ] = 1000,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Run the whole pipeline on synthetic data: generate, inspect, build, validate, predict, score, report."""
    from rrsis_bench.demo import check_output, run_demo

    check_output(out)
    err_console.print(
        f"rrsis-bench demo: {images} synthetic NWPU-Refer images of {size}×{size} px → {out}",
        markup=False,
    )
    result = run_demo(out, images=images, size=size, seed=seed, num_proc=num_proc, n_boot=n_boot)
    for line in result.summary_lines():
        console.print(line, markup=False, highlight=False)


@app.command()
@handle_errors
def predict(
    predictor: Annotated[
        str, typer.Argument(help="Reference predictor: empty, full-image or category-prior.")
    ],
    dataset: Annotated[str, typer.Argument(help="Dataset name or built folder.")],
    out: Annotated[Path, typer.Option("--out", help="Folder receiving <split>/predictions.jsonl.")],
    split: Annotated[
        str, typer.Option("--split", help="Splits to predict, comma-separated.")
    ] = "val,test",
    grid: Annotated[
        int, typer.Option("--grid", min=4, help="category-prior: raster side of the mean masks.")
    ] = 64,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite", help="Replace existing <out>/<split>/predictions.jsonl of these splits."
        ),
    ] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Write a reference predictor's predictions (the floor a learned model must beat)."""
    from rrsis_bench.errors import UnknownNameError
    from rrsis_bench.predictors import (
        PREDICTORS,
        CategoryPrior,
        check_fit_splits,
        prediction_paths,
        run_predictor,
    )

    if predictor not in PREDICTORS:
        raise UnknownNameError("predictor", predictor, PREDICTORS)
    if predictor == "category-prior":
        check_fit_splits(dataset)
    splits = [s.strip() for s in split.split(",") if s.strip()]
    prediction_paths(dataset, splits, out, overwrite)
    prior = None
    if predictor == "category-prior":
        prior = CategoryPrior.fit(dataset, grid=grid)
        err_console.print(
            f"category-prior: {len(prior.counts)} categories, threshold {prior.threshold:.3f} "
            f"(level {prior.level}/255), val oIoU {prior.val_oiou if prior.val_oiou is None else round(prior.val_oiou, 2)}",
            markup=False,
        )
    paths = run_predictor(predictor, dataset, splits, out, prior=prior, overwrite=overwrite)
    for path in paths.values():
        console.print(str(path), markup=False)
