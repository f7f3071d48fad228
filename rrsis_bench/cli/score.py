"""Scoring commands: ``score``, ``compare``, ``protocols``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rrsis_bench.cli.common import (
    DebugOpt,
    QuietOpt,
    app,
    console,
    err_console,
    handle_errors,
    print_error,
)
from rrsis_bench.errors import PredictionError

PredArg = Annotated[
    Path,
    typer.Argument(
        help="A folder of <sample_id>.png, a predictions.jsonl or a COCO-results .json."
    ),
]
DatasetOpt = Annotated[str, typer.Option("--dataset", "-d", help="Dataset name or build folder.")]
SplitOpt = Annotated[
    str, typer.Option("--split", "-s", help="Split(s) to score, comma-separated (val,test).")
]
ProtocolOpt = Annotated[
    str,
    typer.Option(
        "--protocol",
        "-p",
        help="native (default) or a compat protocol; see `rrsis-bench protocols`.",
    ),
]
ResolutionOpt = Annotated[
    int | None,
    typer.Option(
        "--resolution", help="Evaluation grid side of a resizing protocol (lavt: 480|896|1024)."
    ),
]
FormatOpt = Annotated[
    str | None, typer.Option("--format", help="png, jsonl or coco (default: from the path).")
]
ThresholdOpt = Annotated[
    float, typer.Option("--score-threshold", help="COCO results: unite entries with score >= this.")
]
AllowMissingOpt = Annotated[
    bool,
    typer.Option("--allow-missing", help="Score missing predictions as wrong instead of failing."),
]
ExcludeOpt = Annotated[
    str | None, typer.Option("--exclude", help="Exclusion list(s): rsrefseg2, dicor.")
]
ResizeOpt = Annotated[
    bool,
    typer.Option(
        "--resize-predictions", help="Resize predictions of another size to the GT size (nearest)."
    ),
]
BootOpt = Annotated[int, typer.Option("--bootstrap", min=0, help="Bootstrap replicates (0: none).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Bootstrap seed.")]
NumProcOpt = Annotated[int, typer.Option("--num-proc", min=1, help="Processes for PNG decoding.")]
ProblemsOpt = Annotated[
    Path | None,
    typer.Option(
        "--problems",
        help="Write every alignment problem here as JSON lines (sample_id, problem).",
    ),
]
NoVerifyOpt = Annotated[
    bool,
    typer.Option(
        "--no-verify",
        help="Skip checking the split's shards against the sha256 in manifest.json.",
    ),
]

_NAMES = {
    "oiou": ("oIoU", "overall IoU = cIoU"),
    "miou": ("mIoU", "mean IoU = gIoU"),
    "n_acc": ("N-acc", "no-target accuracy TP/(TP+FN)"),
    "t_acc": ("T-acc", "target accuracy TN/(TN+FP)"),
    "category_miou": ("category mIoU", "RSRefSeg2 mean over categories"),
}


def _name(key: str) -> tuple[str, str]:
    if key in _NAMES:
        return _NAMES[key]
    t = key.split("@", 1)[1]
    return f"Pr@{t}", f"precision@{t} = P@{t} = seg_acc_{t}"


def _fmt(v: float | None) -> str:
    return "null" if v is None else f"{v:.2f}"


def _print_score(report: Any) -> None:
    d = report.to_json()
    proto, ds = d["protocol"], d["dataset"]
    label = proto["name"] + (
        f" (as {proto['requested_as']})" if proto["requested_as"] != proto["name"] else ""
    )
    kind = "compat protocol" if proto["compat"] else "default protocol"
    title = f"{ds['name']} {ds['split']}: {ds['n_samples']:,} samples, {kind} {label}"
    t = Table(title=title)
    t.add_column("metric")
    t.add_column("aliases")
    t.add_column("value", justify="right")
    ci = d["ci"]
    if ci is not None:  # --bootstrap 0: no interval, no column
        t.add_column("95% CI", justify="right")
    for key, value in d["metrics"].items():
        name, aliases = _name(key)
        row = [name, aliases, _fmt(value)]
        if ci is not None:
            interval = ci.get(key) if key in ("oiou", "miou") else None
            row.append("" if not interval else f"[{interval[0]:.2f}, {interval[1]:.2f}]")
        t.add_row(*row)
    console.print(t)
    p = report.protocol
    lines = [
        f"resolution: {p.resolution_text()}",
        f"empty union / no-target: {p.empty_union_text()}",
        f"Pr@t: IoU {p.pr_rule} t over {'targeted samples only' if p.pr_samples == 'targeted' else 'all samples'}; "
        f"samples: {p.sample_policy}; dtype: {p.dtype}",
    ]
    c = d["counts"]
    if "n_acc" in d["metrics"]:
        lines.append(
            "N-acc/T-acc (GRES convention, no-target = positive): "
            f"TP {c['tp']:,}, FN {c['fn']:,}, FP {c['fp']:,}, TN {c['tn']:,}"
        )
    checked = "" if ds["verified"] else " (shards not verified: --no-verify)"
    shas = ", ".join(f"{s} {sha}" for s, sha in ds["gt_sha256"].items())
    lines.append(f"ΣI {c['sum_i']:,}, ΣU {c['sum_u']:,}; gt_sha256 {shas}{checked}")
    if d["missing"]:
        lines.append(f"missing predictions scored as wrong: {d['missing']:,}")
    for name, info in ds["excluded"].items():
        lines.append(
            f"excluded by --exclude {name}: {info['n_samples']:,} samples (flag {info['flag']})"
        )
    for why, n in d["ignored"].items():
        lines.append(f"samples set aside ({why.replace('_', ' ')}): {n:,}")
    for key, why in d["undefined"].items():
        lines.append(f"{_name(key)[0]} is null: {why}")
    lines += [f"note: {n}" for n in d["notes"]]
    for line in lines:
        console.print(line, markup=False)
    for key, groups in d["breakdowns"].items():
        _print_breakdown(key, groups, list(d["metrics"]))


_SHOWN = 10
"""Problems printed under the error line; ``--problems FILE`` writes all of them."""


def _fail_with_problems(exc: PredictionError, problems_out: Path | None) -> None:
    """Print the error line and at most ten problems; write all of them to ``problems_out``."""
    from rrsis_bench.alignment import write_problems

    n = len(exc.problems)
    if problems_out is not None:
        write_problems(exc.problems, problems_out)
    if n <= 5:  # the error line already names every problem
        print_error(str(exc))
    else:
        print_error(f"{exc.summary} ({n:,} problems)")
        for sid, why in exc.problems[:_SHOWN]:
            err_console.print(f"  {sid}: {why}", markup=False)
        if n > _SHOWN:
            where = (
                f"all {n:,} written to {problems_out}"
                if problems_out is not None
                else "--problems FILE writes all of them"
            )
            err_console.print(f"  … and {n - _SHOWN:,} more ({where})", markup=False)
    if problems_out is not None and n <= _SHOWN:
        err_console.print(f"problems written to {problems_out}", markup=False)
    raise typer.Exit(1)


def _print_breakdown(key: str, groups: dict[str, Any], metric_keys: list[str]) -> None:
    t = Table(title=f"by {key}")
    t.add_column(key)
    t.add_column("n", justify="right")
    for m in metric_keys:
        t.add_column(_name(m)[0], justify="right")
    for value, g in groups.items():
        if not isinstance(g, dict) or "metrics" not in g:
            continue
        t.add_row(value, f"{g['n']:,}", *(_fmt(g["metrics"].get(m)) for m in metric_keys))
    console.print(t)


@app.command()
@handle_errors
def score(
    predictions: PredArg,
    dataset: DatasetOpt,
    split: SplitOpt = "test",
    protocol: ProtocolOpt = "native",
    resolution: ResolutionOpt = None,
    by: Annotated[
        str, typer.Option("--by", help="Breakdowns: target_type,category,size (empty for none).")
    ] = "target_type,category,size",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the JSON report here.")
    ] = None,
    per_sample: Annotated[
        Path | None,
        typer.Option("--per-sample", help="Write per-sample rows (.csv, .json, .jsonl)."),
    ] = None,
    allow_missing: AllowMissingOpt = False,
    exclude: ExcludeOpt = None,
    format: FormatOpt = None,
    score_threshold: ThresholdOpt = 0.5,
    resize_predictions: ResizeOpt = False,
    bootstrap: BootOpt = 1000,
    seed: SeedOpt = 0,
    num_proc: NumProcOpt = 1,
    problems: ProblemsOpt = None,
    no_verify: NoVerifyOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Score predictions against a built dataset: oIoU, mIoU, Pr@t, N-acc, T-acc."""
    from rrsis_bench.alignment import write_problems
    from rrsis_bench.score_report import check_per_sample_path
    from rrsis_bench.scoring import score as score_fn

    if per_sample is not None:
        check_per_sample_path(per_sample)
    try:
        report = score_fn(
            predictions,
            dataset,
            split,
            protocol,
            resolution=resolution,
            format=format,
            score_threshold=score_threshold,
            allow_missing=allow_missing,
            exclude=exclude,
            resize_predictions=resize_predictions,
            by=[b.strip() for b in by.split(",") if b.strip()],
            n_boot=bootstrap,
            seed=seed,
            num_proc=num_proc,
            verify=not no_verify,
        )
    except PredictionError as exc:
        if debug:
            raise
        _fail_with_problems(exc, problems)
    if problems is not None:
        write_problems([], problems)
    _print_score(report)
    if json_out is not None:
        report.write_json(json_out)
        err_console.print(f"report written to {json_out}", markup=False)
    if per_sample is not None:
        report.write_per_sample(per_sample)
        err_console.print(f"per-sample rows written to {per_sample}", markup=False)


@app.command()
@handle_errors
def compare(
    predictions_a: Annotated[Path, typer.Argument(help="Reference predictions (A).")],
    predictions_b: Annotated[Path, typer.Argument(help="Predictions compared with A (B).")],
    dataset: DatasetOpt,
    split: SplitOpt = "test",
    protocol: ProtocolOpt = "native",
    resolution: ResolutionOpt = None,
    top: Annotated[
        int, typer.Option("--top", min=0, help="Samples that changed most to list.")
    ] = 10,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the JSON comparison here.")
    ] = None,
    allow_missing: AllowMissingOpt = False,
    exclude: ExcludeOpt = None,
    format: FormatOpt = None,
    score_threshold: ThresholdOpt = 0.5,
    resize_predictions: ResizeOpt = False,
    bootstrap: BootOpt = 1000,
    seed: SeedOpt = 0,
    num_proc: NumProcOpt = 1,
    problems: ProblemsOpt = None,
    no_verify: NoVerifyOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Paired comparison of two prediction sets (B − A) with bootstrap intervals."""
    from rrsis_bench.alignment import write_problems
    from rrsis_bench.scoring import compare as compare_fn

    try:
        rep = compare_fn(
            predictions_a,
            predictions_b,
            dataset,
            split,
            protocol,
            top=top,
            n_boot=bootstrap,
            seed=seed,
            resolution=resolution,
            format=format,
            score_threshold=score_threshold,
            allow_missing=allow_missing,
            exclude=exclude,
            resize_predictions=resize_predictions,
            num_proc=num_proc,
            verify=not no_verify,
        )
    except PredictionError as exc:
        if debug:
            raise
        _fail_with_problems(exc, problems)
    if problems is not None:
        write_problems([], problems)
    d = rep.to_json()
    t = Table(
        title=f"{d['dataset']['name']} {d['dataset']['split']}: B − A under {d['protocol']['name']}"
    )
    with_ci = d["ci"]["n_boot"] > 0  # --bootstrap 0: no interval, no column
    cols = ["metric", "aliases", "A", "B", "B − A"] + (["95% CI of B − A"] if with_ci else [])
    for col in cols:
        t.add_column(col, justify="left" if col in ("metric", "aliases") else "right")
    for key, diff in d["difference"].items():
        name, aliases = _name(key)
        row = [
            name,
            aliases,
            _fmt(d["a"]["metrics"][key]),
            _fmt(d["b"]["metrics"][key]),
            "null" if diff is None else f"{diff:+.2f}",
        ]
        if with_ci:
            interval = d["ci"].get(key) if key in ("oiou", "miou") else None
            row.append("" if not interval else f"[{interval[0]:+.2f}, {interval[1]:+.2f}]")
        t.add_row(*row)
    console.print(t)
    s = d["summary"]
    console.print(
        f"per-sample IoU: {s['improved']:,} improved, {s['worse']:,} worse, {s['same']:,} unchanged "
        f"of {s['n']:,}; A = {predictions_a}, B = {predictions_b}",
        markup=False,
    )
    if not d["dataset"]["verified"]:
        console.print("ground truth shards not verified (--no-verify)", markup=False)
    if d["changed_most"]:
        c = Table(title="samples that changed most")
        for col in ("sample_id", "target_type", "IoU A", "IoU B", "Δ"):
            c.add_column(col, justify="left" if col in ("sample_id", "target_type") else "right")
        for r in d["changed_most"]:
            c.add_row(
                r["sample_id"],
                r["target_type"],
                f"{r['iou_a']:.4f}",
                f"{r['iou_b']:.4f}",
                f"{r['delta']:+.4f}",
            )
        console.print(c)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(rep.dumps(), encoding="utf-8")
        err_console.print(f"comparison written to {json_out}", markup=False)


@app.command()
@handle_errors
def protocols(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List the evaluation protocols and every rule of each."""
    from rrsis_bench.metrics import PROTOCOLS

    items = [p.describe() for p in PROTOCOLS.values()]
    if as_json:
        console.print_json(json.dumps(items))
        return
    console.print("evaluation protocols (oIoU = overall IoU = cIoU; mIoU = mean IoU = gIoU)")
    for p in PROTOCOLS.values():
        thr = ", ".join(f"{v:g}" for v in p.thresholds)
        kind = "compat" if p.compat else "default"
        console.print(
            f"\n[bold]{p.name}[/bold] ({kind}; aliases: {', '.join(p.aliases) or 'none'})",
            highlight=False,
        )
        lines = [
            f"mirrors: {p.mirrors or 'nothing: the rrsis-bench definition'}",
            f"resolution: {p.resolution_text()}",
            f"empty union / no-target: {p.empty_union_text()}",
            f"Pr@t: IoU {p.pr_rule} t for t in {thr}, over {p.pr_samples} samples",
            "N-acc, T-acc: "
            + (
                "yes (GRES convention: no-target is the positive class)"
                if p.reports_nt_acc
                else "no"
            ),
            f"samples: {p.sample_policy}; accumulation: {p.dtype}",
            *(f"note: {n}" for n in p.notes),
        ]
        for line in lines:
            console.print(f"  {line}", markup=False)
