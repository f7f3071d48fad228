"""Temporary sibling folders for atomic writes, and SIGTERM turned into a clean interruption.

Every output (a build, an extracted archive, an export) is written to a hidden sibling
``.<name>.partial-<pid>-<random>`` and renamed into place when complete. A process killed
before it can clean up (SIGKILL, a power cut) leaves such a folder behind; the next write to the
same target removes the ones whose process is gone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path


def partial_sibling(target: Path) -> Path:
    """A fresh hidden sibling folder name for writing ``target`` (not created)."""
    return target.parent / f".{target.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(target: Path) -> list[Path]:
    """Remove ``target``'s leftover partial siblings whose writing process no longer runs."""
    removed: list[Path] = []
    if not target.parent.is_dir():
        return removed
    prefix = f".{target.name}.partial-"
    for p in target.parent.iterdir():
        if not p.name.startswith(prefix) or not p.is_dir():
            continue
        pid_text = p.name[len(prefix) :].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _alive(int(pid_text)):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises ``KeyboardInterrupt`` so that cleanup code runs.

    (``timeout``, batch schedulers and ``docker stop`` send SIGTERM.) Only the main thread can
    install signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
