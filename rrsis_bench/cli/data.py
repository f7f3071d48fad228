"""Dataset commands: ``build``, ``validate``, ``datasets``, ``info``, ``rules``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rrsis_bench.cli.common import DebugOpt, QuietOpt, app, console, err_console, handle_errors
from rrsis_bench.validate import Report

DatasetArg = Annotated[
    str, typer.Argument(help="Registered dataset name (see `rrsis-bench datasets`).")
]
RawOpt = Annotated[
    Path, typer.Option("--raw", help="The raw release folder (either level) or archive.")
]
OptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--option",
        "-o",
        help="Builder option KEY=VALUE (repeatable), e.g. -o group=true; "
        "see `rrsis-bench datasets` for each builder's options.",
    ),
]


def parse_options(items: list[str] | None) -> dict[str, Any]:
    """Turn ``KEY=VALUE`` strings into a dict (a bad item raises ``FormatError``)."""
    from rrsis_bench.errors import FormatError

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise FormatError(f"--option {item!r} is not KEY=VALUE (e.g. --option group=true)")
        out[key.strip()] = value.strip()
    return out


def _print_report(report: Report, examples: int = 2) -> None:
    for line in report.summary_lines(examples=examples):
        err_console.print(line, markup=False, highlight=False)


@app.command()
@handle_errors
def build(
    dataset: DatasetArg,
    raw: RawOpt,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="The build folder itself (default $RRSIS_BENCH_HOME/<dataset>)."
        ),
    ] = None,
    num_proc: Annotated[
        int, typer.Option("--num-proc", min=1, help="Processes for per-file work.")
    ] = 1,
    strict: Annotated[
        bool, typer.Option("--strict", help="Make validation errors and warnings fatal.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing build.")
    ] = False,
    deep: Annotated[bool, typer.Option("--deep", help="Decode every image (slower).")] = False,
    option: OptionOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Build a dataset from its raw release into the unified format."""
    from rrsis_bench.builders import build as build_dataset

    result = build_dataset(
        dataset,
        raw,
        out,
        num_proc=num_proc,
        strict=strict,
        overwrite=overwrite,
        deep=deep,
        **parse_options(option),
    )
    _print_report(result.report)
    for split, c in result.counts.items():
        err_console.print(
            f"{split}: {c['images']:,} images, {c['expressions']:,} expressions "
            f"({c['single']:,} single / {c['multi']:,} multi / {c['none']:,} none), {c['objects']:,} objects",
            markup=False,
        )
    console.print(str(result.path), markup=False)


@app.command()
@handle_errors
def validate(
    dataset: DatasetArg,
    raw: RawOpt,
    deep: Annotated[bool, typer.Option("--deep", help="Decode every image and mask.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit non-zero on warnings too.")
    ] = False,
    num_proc: Annotated[int, typer.Option("--num-proc", min=1)] = 1,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the full report here.")
    ] = None,
    examples: Annotated[int, typer.Option("--examples", help="Examples printed per rule.")] = 3,
    option: OptionOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Check a raw release against every validation rule without building it."""
    from rrsis_bench.builders import validate as validate_raw

    result = validate_raw(dataset, raw, num_proc=num_proc, deep=deep, **parse_options(option))
    _print_report(result.report, examples)
    if json_out is not None:
        result.report.write(json_out)
        err_console.print(f"report written to {json_out}", markup=False)
    if result.report.has_errors() or (strict and result.report.has_warnings()):
        raise typer.Exit(1)


@app.command()
@handle_errors
def datasets(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List the registered datasets: licence, where to download, published counts."""
    from rrsis_bench.registry import get_spec, list_datasets

    specs = [get_spec(n) for n in list_datasets()]
    if as_json:
        console.print_json(json.dumps([s.summary() for s in specs]))
        return
    for s in specs:
        counts = ", ".join(f"{k} {v:,}" for k, v in s.published_counts.items())
        extra = ", ".join(f"{k} {v:,}" for k, v in s.extra_counts.items())
        published = "; ".join(
            p for p in (f"{s.published_unit}: {counts}" if counts else "", extra) if p
        )
        licence = s.licence + ("" if s.redistributable else " (not redistributable)")
        console.print(f"[bold]{s.name}[/bold] — {s.title}", highlight=False)
        for label, value in (
            ("licence", licence),
            ("published", published or "no counts published"),
            ("download", s.download),
            ("homepage", s.homepage),
        ):
            if value:
                console.print(f"  {label:<10} {value}", markup=False, highlight=False)
        console.print()


@app.command()
@handle_errors
def info(
    dataset: Annotated[str, typer.Argument(help="Dataset name or built folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Describe a built dataset: counts, target types, categories, mask sizes, validation."""
    from rrsis_bench.summary import dataset_summary

    s = dataset_summary(dataset)
    if as_json:
        console.print_json(json.dumps(s))
        return
    console.print(f"{s['name']}  ({s['path']}, format {s['format_version']})", markup=False)
    t = Table(title="splits")
    for col in ("split", "images", "expressions", "objects", "single", "multi", "none"):
        t.add_column(col, justify="right" if col != "split" else "left")
    for split, c in s["splits"].items():
        tt = c["target_types"]
        t.add_row(
            split,
            f"{c['images']:,}",
            f"{c['expressions']:,}",
            f"{c['objects']:,}",
            f"{tt['single']:,}",
            f"{tt['multi']:,}",
            f"{tt['none']:,}",
        )
    console.print(t)
    sizes = Table(title="expression mask size (area / image area)")
    sizes.add_column("split")
    bins = next(iter(s["splits"].values()))["mask_size"].keys() if s["splits"] else []
    for b in bins:
        sizes.add_column(b, justify="right")
    for split, c in s["splits"].items():
        sizes.add_row(split, *[f"{v:,}" for v in c["mask_size"].values()])
    console.print(sizes)
    cats = ", ".join(f"{k} {v:,}" for k, v in list(s["categories"].items())[:25])
    console.print(f"categories ({len(s['categories'])}): {cats}", markup=False)
    console.print(
        "languages: " + ", ".join(f"{k} {v:,}" for k, v in s["languages"].items()), markup=False
    )
    if s["flags"]:
        console.print(
            "flags: " + ", ".join(f"{k} {v:,}" for k, v in s["flags"].items()), markup=False
        )
    v = s["validation"]
    console.print(
        f"validation: {v.get('error', 0)} errors, {v.get('warning', 0)} warnings, {v.get('info', 0)} info",
        markup=False,
    )
    for rid, r in s["rules"].items():
        console.print(f"  {r['severity']:<7} {rid} ×{r['count']}", markup=False)


@app.command()
@handle_errors
def rules(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List every sample flag and validation rule id."""
    from rich.text import Text

    from rrsis_bench.rules import FLAGS, RULES

    if as_json:
        console.print_json(
            json.dumps(
                {
                    "rules": [
                        {"id": r.id, "severity": r.severity, "description": r.description}
                        for r in RULES.values()
                    ],
                    "flags": [{"name": k, "description": v} for k, v in FLAGS.items()],
                }
            )
        )
        return
    t = Table(title="validation rules")
    for col in ("rule", "severity", "checks"):
        t.add_column(col, overflow="fold")
    for r in RULES.values():
        t.add_row(r.id, r.severity, Text(r.description))
    console.print(t)
    f = Table(title="sample flags")
    f.add_column("flag")
    f.add_column("meaning", overflow="fold")
    for name, desc in FLAGS.items():
        f.add_row(name, Text(desc))
    console.print(f)
