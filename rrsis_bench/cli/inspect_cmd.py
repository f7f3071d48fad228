"""``rrsis-bench inspect RAW_DIR``: what a raw folder holds, without building."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rrsis_bench.cli.common import DebugOpt, QuietOpt, app, console, handle_errors, print_error


@app.command()
@handle_errors
def inspect(
    raw: Annotated[
        Path, typer.Argument(help="The downloaded release folder, or its archive (.zip, .tar.*).")
    ],
    examples: Annotated[
        int, typer.Option("--examples", min=0, help="Example records shown per file.")
    ] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Show the files, key sets, counts, segmentation kinds, splits and languages of a raw folder.

    Exits 1 (after the report) when a REFER release found there cannot be built as it is, for
    instance because its refs pickle was refused.
    """
    from rrsis_bench.builders.inspect import inspect_raw

    result = inspect_raw(raw, examples=examples)
    if as_json:
        console.print_json(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        for line in result.summary_lines():
            console.print(line, markup=False, highlight=False)
    blocking = result.blocking()
    if blocking:
        more = f" (and {len(blocking) - 1} more problems above)" if len(blocking) > 1 else ""
        print_error(blocking[0] + more)
        raise typer.Exit(1)
