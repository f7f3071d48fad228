"""Shared pieces of the CLI: the typer app, common options and error handling."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from rrsis_bench import __version__
from rrsis_bench.errors import RRSISBenchError

app = typer.Typer(
    name="rrsis-bench",
    help="Dataset toolkit and benchmark suite for Referring Remote Sensing Image Segmentation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _console(stderr: bool = False) -> Console:
    """A console that keeps tables whole in logs and pipes (rich assumes 80 columns there)."""
    probe = Console(stderr=stderr)
    width = None if probe.is_terminal else 200
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


console = _console()
err_console = _console(stderr=True)

QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show the full traceback on errors.")]

F = TypeVar("F", bound=Callable[..., Any])


def _version_callback(value: bool) -> None:
    if value:
        console.print(f"rrsis-bench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version_callback, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Dataset toolkit and benchmark suite for Referring Remote Sensing Image Segmentation."""


def print_error(message: str) -> None:
    """Print one error line on stderr (no markup interpretation of the message)."""
    from rich.text import Text

    err_console.print(Text.assemble(("error: ", "bold red"), message))


def handle_errors(func: F) -> F:
    """Turn library errors into one line on stderr and exit code 1 (``--debug`` re-raises).

    The wrapped command must accept ``quiet`` and ``debug`` keyword arguments.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from rrsis_bench import progress

        debug = bool(kwargs.get("debug")) or os.environ.get("RRSIS_BENCH_DEBUG") == "1"
        if kwargs.get("quiet"):
            progress.set_enabled(False)
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except RRSISBenchError as exc:
            if debug:
                raise
            print_error(str(exc))
            raise typer.Exit(1) from None
        except OSError as exc:
            if debug:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            print_error(f"{where}{exc.strerror or exc}")
            raise typer.Exit(1) from None
        except KeyboardInterrupt:
            err_console.print("[red]interrupted[/red]; nothing was left half-written")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]
