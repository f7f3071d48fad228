"""Shared test setup: no network, no progress bars, a private $RRSIS_BENCH_HOME per test."""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "agg")
os.environ["RRSIS_BENCH_QUIET"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
# `datasets` reads its cache location once, at import: point it at a private folder before any
# test module imports it, so no test writes to the user's ~/.cache.
_HF_HOME = tempfile.mkdtemp(prefix="rrsis-bench-tests-hf-")
atexit.register(shutil.rmtree, _HF_HOME, ignore_errors=True)
os.environ["HF_HOME"] = _HF_HOME
os.environ["HF_DATASETS_CACHE"] = os.path.join(_HF_HOME, "datasets")

TESTS = Path(__file__).parent
# tests/data/<source>/data.py generators import as data.<source>.data
sys.path.insert(0, str(TESTS))

# generators and oracles, not tests (and not doctest modules)
collect_ignore_glob = ["data/*"]

SHARED_REALDATA = TESTS.parent.parent / "shared" / "realdata"


class _NoNetwork(socket.socket):
    def connect(self, address):  # type: ignore[override]
        host = address[0] if isinstance(address, tuple) else address
        if (
            isinstance(host, str)
            and host not in ("127.0.0.1", "::1", "localhost")
            and not host.startswith(("/", "\0"))  # Unix sockets (multiprocessing uses them)
        ):
            raise RuntimeError(f"tests must not use the network (tried to connect to {address!r})")
        return super().connect(address)


@pytest.fixture(autouse=True)
def _isolate(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    monkeypatch.setattr(socket, "socket", _NoNetwork)
    home = tmp_path_factory.mktemp("rrsis_home")
    monkeypatch.setenv("RRSIS_BENCH_HOME", str(home))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(home / "hf_cache"))
