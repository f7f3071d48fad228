from __future__ import annotations

import pytest

from rrsis_bench import progress


def test_quiet_setting_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "_enabled", None)
    monkeypatch.setenv("RRSIS_BENCH_QUIET", "1")
    assert progress.enabled() is False
    monkeypatch.setenv("RRSIS_BENCH_QUIET", "0")
    assert progress.enabled() is True
    assert progress.enabled(False) is False
    progress.set_enabled(False)
    assert progress.enabled() is False
    assert progress.enabled(True) is True


def test_track_yields_everything_and_prints_nothing_off_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    items = list(progress.track(range(5), "counting", progress=True))
    assert items == [0, 1, 2, 3, 4]
    out = capsys.readouterr()
    assert out.err == "" and out.out == ""  # no blank lines left in logs and pipes
