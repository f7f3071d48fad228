"""Build -> export -> build: the REFER export read back by the REFER builder."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from data.interop.data import write_built

from rrsis_bench.builders import build
from rrsis_bench.export import export
from rrsis_bench.expressions import ExpressionView
from rrsis_bench.schema import normalize_sentence


def _expressions(path: Path) -> dict[tuple[str, str], tuple[str, np.ndarray, bytes, str]]:
    """(file, text) -> (target type, mask, image bytes, sample id) of every expression.

    Texts are compared normalised: the REFER builder collapses the irregular spacing some
    sources have (RefSegRS "building  along the road"), flagging it ``text_normalized``.
    """
    out = {}
    for e in ExpressionView(path):
        key = (PurePosixPath(e.file_name).name, normalize_sentence(e.text))
        assert key not in out
        out[key] = (e.target_type, e.mask, e.image_bytes, e.sample_id)
    return out


def _same(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2] == b[2]


def test_single_target_dataset_round_trips_exactly(tmp_path: Path):
    built = write_built(tmp_path, single_only=True)
    result = export(built, None, tmp_path / "export", preset="rrsisd")
    assert result.skipped == {}
    rebuilt = build("rrsis-d", tmp_path / "export", tmp_path / "rebuilt")
    before, after = _expressions(built), _expressions(rebuilt.path)
    assert len(before) == 8
    assert sorted(before) == sorted(after)
    for key in before:
        assert _same(before[key], after[key]), key
        assert before[key][3] == after[key][3]  # ref ids are kept, so sample ids are too
    assert rebuilt.counts["train"]["single"] == 5


def test_mixed_dataset_round_trips_what_refer_can_hold(tmp_path: Path):
    built = write_built(tmp_path)
    result = export(built, None, tmp_path / "export", preset="rrsisd")
    rebuilt = build("rrsis-d", tmp_path / "export", tmp_path / "rebuilt")
    before, after = _expressions(built), _expressions(rebuilt.path)
    dropped = sorted(k for k in before if k not in after)
    assert dropped == [
        ("10.jpg", "the airplane"),
        ("2.png", "the harbor"),
        ("4.jpg", "the stadium"),
    ]
    assert all(before[k][0] == "none" for k in dropped)
    assert result.skipped == {"no_target": 3}
    for key, got in after.items():
        want = before[key]
        assert np.array_equal(want[1], got[1]) and want[2] == got[2], key
        # REFER holds one annotation per ref: a multi-target referent comes back as its union
        assert got[0] == ("single" if want[0] == "multi" else want[0]), key


@pytest.mark.slow
def test_refsegrs_round_trips_through_refer(tmp_path: Path):
    from data.refsegrs.data import write_refsegrs

    write_refsegrs(tmp_path / "raw")
    first = build("refsegrs", tmp_path / "raw", tmp_path / "built")
    export(first.path, None, tmp_path / "export", preset="rrsisd")
    rebuilt = build("rrsis-d", tmp_path / "export", tmp_path / "rebuilt")
    before, after = _expressions(first.path), _expressions(rebuilt.path)
    assert len(before) == 19
    assert sorted(before) == sorted(after)
    for key in before:
        assert _same(before[key], after[key]), key


@pytest.mark.parametrize("segmentation", ["polygon", "rle"])
def test_mixed_dataset_round_trips_whole_through_grefcoco(tmp_path: Path, segmentation: str):
    built = write_built(tmp_path)
    result = export(built, None, tmp_path / "export", preset="grefcoco", segmentation=segmentation)
    assert result.skipped == {}
    rebuilt = build("grefer", tmp_path / "export", tmp_path / "rebuilt", split_map="testA:test")
    manifest = json.loads((rebuilt.path / "manifest.json").read_text())
    assert manifest["options"]["name"] == "grefcoco"
    assert manifest["options"]["split_map"] == {"testA": "test"}
    before, after = _expressions(built), _expressions(rebuilt.path)
    assert len(before) == 13
    assert sorted(before) == sorted(after)
    for key in before:
        assert _same(before[key], after[key]), key  # multi and none come back as they were
    types = sorted(v[0] for v in after.values())
    assert types.count("multi") == 2 and types.count("none") == 3
