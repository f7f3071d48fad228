"""The ``rrsis-bench`` command line: thin typer commands, each calling one library function.

Commands live in small modules that register themselves on :data:`app`; errors raised on
purpose by the library are printed as one line (no traceback unless ``--debug``) with a
non-zero exit.
"""

from __future__ import annotations

import importlib

from rrsis_bench.cli.common import app

_COMMAND_MODULES = (
    "rrsis_bench.cli.data",
    "rrsis_bench.cli.inspect_cmd",
    "rrsis_bench.cli.score",
    "rrsis_bench.cli.interop",
    "rrsis_bench.cli.demo",
)

for _module in _COMMAND_MODULES:
    try:
        importlib.import_module(_module)
    except ModuleNotFoundError as _exc:  # a command group not present in this install
        if _exc.name != _module:
            raise


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
