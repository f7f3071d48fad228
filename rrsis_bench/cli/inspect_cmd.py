"""``rrsis-bench inspect RAW_DIR``: what a raw folder holds, without building."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rrsis_bench.cli.common import DebugOpt, QuietOpt, app, console, handle_errors


@app.command()
@handle_errors
def inspect(
    raw: Annotated[Path, typer.Argument(help="The downloaded release folder.")],
    examples: Annotated[
        int, typer.Option("--examples", min=0, help="Example records shown per file.")
    ] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show the files, key sets, counts, segmentation kinds, splits and languages of a raw folder."""
    from rrsis_bench.builders.inspect import inspect_raw

    result = inspect_raw(raw, examples=examples)
    if as_json:
        console.print_json(json.dumps(result.to_dict(), ensure_ascii=False))
        return
    for line in result.summary_lines():
        console.print(line, markup=False, highlight=False)
