"""Progress bars for long work (rich, on stderr), silenced with ``--quiet`` or ``RRSIS_BENCH_QUIET=1``.

Library functions take ``progress: bool | None``; ``None`` follows the process-wide setting,
which the CLI sets from ``--quiet``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

_enabled: bool | None = None


def set_enabled(value: bool) -> None:
    """Turn progress bars on or off for this process."""
    global _enabled
    _enabled = value


def enabled(progress: bool | None = None) -> bool:
    """Resolve a per-call ``progress`` argument against the process-wide setting."""
    if progress is not None:
        return progress
    if _enabled is not None:
        return _enabled
    return os.environ.get("RRSIS_BENCH_QUIET", "") not in ("1", "true", "yes")


def track(
    items: Iterable[T],
    description: str,
    total: int | None = None,
    progress: bool | None = None,
) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar on stderr when enabled and stderr is a terminal."""
    if not enabled(progress):
        yield from items
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if not console.is_terminal:  # a log file or a pipe: a transient bar would leave blank lines
        yield from items
        return
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
