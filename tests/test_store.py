from __future__ import annotations

import hashlib
import json
from pathlib import Path

import datasets
import pytest
from data.records import make_inputs, make_records

from rrsis_bench import store
from rrsis_bench.errors import (
    BuildError,
    DatasetNotFoundError,
    FormatVersionError,
    OutputExistsError,
)
from rrsis_bench.schema import FEATURES
from rrsis_bench.validate import Report


def _hashes(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _report() -> Report:
    r = Report("toy")
    r.add("mask-empty", "sample 3 has an empty mask", sample_id="3", split="train")
    return r


def test_layout_manifest_and_counts(tmp_path: Path) -> None:
    recs = make_records(tmp_path / "raw", n=8)
    out = store.write_dataset(tmp_path / "built", recs, make_inputs(), _report())
    assert sorted(_hashes(out)) == [
        "README.md",
        "data/test-00000-of-00001.parquet",
        "data/train-00000-of-00001.parquet",
        "data/val-00000-of-00001.parquet",
        "manifest.json",
        "validation.json",
    ]
    m = json.loads((out / "manifest.json").read_text())
    assert m["format_version"] == "1.0"
    assert m["counts"] == {"images": 8, "expressions": 8, "objects": 8}
    assert m["splits"]["train"]["images"] == 4
    assert m["splits"]["val"]["target_types"] == {"single": 2, "multi": 0, "none": 0}
    # the builder's hashes plus the hash of every image the shard writer read
    assert m["raw_files"] == {"refs(unc).p": "0" * 64} | {
        r.file_name: hashlib.sha256(Path(r.source).read_bytes()).hexdigest() for r in recs
    }
    shard = "data/val-00000-of-00001.parquet"
    assert m["shards"][shard] == hashlib.sha256((out / shard).read_bytes()).hexdigest()
    assert (
        m["splits"]["val"]["gt_sha256"] == hashlib.sha256(m["shards"][shard].encode()).hexdigest()
    )
    assert str(tmp_path) not in (out / "manifest.json").read_text()
    v = json.loads((out / "validation.json").read_text())
    assert v["summary"] == {"error": 0, "warning": 1, "info": 0}
    assert v["findings"] == [
        {
            "rule": "mask-empty",
            "severity": "warning",
            "message": "sample 3 has an empty mask",
            "sample_id": "3",
            "split": "train",
        }
    ]


def test_rows_sorted_and_image_bytes_unchanged(tmp_path: Path) -> None:
    recs = make_records(tmp_path / "raw", n=12)
    out = store.write_dataset(
        tmp_path / "built", list(reversed(recs)), make_inputs(), Report("toy")
    )
    ds = store.open_dataset(out)
    ids = [r["image_id"] for r in ds.iter_rows("train", columns=["image_id"])]
    assert ids == ["0", "1", "4", "5", "8", "9"]
    row = next(ds.iter_rows("val", columns=["image", "file_name"]))
    assert row["file_name"] == "images/00002.jpg"
    assert row["image"]["bytes"] == (tmp_path / "raw/images/00002.jpg").read_bytes()
    assert row["image"]["path"] == "images/00002.jpg"


def test_deterministic_and_independent_of_num_proc(tmp_path: Path) -> None:
    recs = make_records(tmp_path / "raw", n=16)
    a = store.write_dataset(tmp_path / "a", recs, make_inputs(), _report(), max_shard_bytes=6000)
    b = store.write_dataset(
        tmp_path / "b", recs[::-1], make_inputs(), _report(), max_shard_bytes=6000, num_proc=2
    )
    ha, hb = _hashes(a), _hashes(b)
    assert ha == hb
    assert len([k for k in ha if k.startswith("data/train-")]) > 1  # several shards were cut


def test_load_dataset_returns_every_split_with_features(tmp_path: Path) -> None:
    out = store.write_dataset(
        tmp_path / "built", make_records(tmp_path / "raw"), make_inputs(), Report("toy")
    )
    dd = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf"))
    assert sorted(dd) == ["test", "train", "val"]
    assert dd["train"].features == FEATURES
    assert dd["train"].num_rows == 4
    e = dd["val"][0]["expressions"][0]
    assert e["target_type"] == 0 and e["text"] == "the car number 2"
    assert dd["val"][0]["image"].size == (32, 24)


def test_overwrite_rules(tmp_path: Path) -> None:
    recs = make_records(tmp_path / "raw", n=4)
    out = store.write_dataset(tmp_path / "built", recs, make_inputs(), Report("toy"))
    with pytest.raises(
        OutputExistsError, match="already holds a build; pass --overwrite to replace it"
    ):
        store.write_dataset(out, recs, make_inputs(), Report("toy"))
    store.write_dataset(out, recs[:2], make_inputs(), Report("toy"), overwrite=True)
    assert store.open_dataset(out).manifest["counts"]["images"] == 2
    other = tmp_path / "precious"
    other.mkdir()
    (other / "thesis.tex").write_text("x")
    with pytest.raises(
        OutputExistsError, match="is not an rrsis-bench build; choose another --out"
    ):
        store.write_dataset(other, recs, make_inputs(), Report("toy"), overwrite=True)
    assert (other / "thesis.tex").read_text() == "x"


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_failed_build_leaves_previous_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    recs = make_records(tmp_path / "raw", n=8)
    out = store.write_dataset(tmp_path / "built", recs, make_inputs(), Report("toy"))
    before = _hashes(out)
    calls = {"n": 0}
    real = store.write_shard

    def failing(path: Path, records: list) -> tuple[str, int]:  # type: ignore[type-arg]
        calls["n"] += 1
        if calls["n"] == 2:
            raise exc
        return real(path, records)

    monkeypatch.setattr(store, "write_shard", failing)
    expected = BuildError if isinstance(exc, OSError) else KeyboardInterrupt
    with pytest.raises(expected) as info:
        store.write_dataset(out, recs[:3], make_inputs(), Report("toy"), overwrite=True)
    if expected is BuildError:
        assert "No space left on device" in str(info.value)
        assert "The earlier build, if any, is untouched." in str(info.value)
    assert _hashes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["built", "raw"]  # no partial folder left


def test_open_dataset_errors(tmp_path: Path) -> None:
    with pytest.raises(
        DatasetNotFoundError, match="no such built dataset folder and no registered dataset"
    ):
        store.open_dataset(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"not a built dataset \(no manifest.json\)"):
        store.open_dataset(tmp_path / "empty")
    out = store.write_dataset(
        tmp_path / "built", make_records(tmp_path / "raw", n=4), make_inputs(), Report("toy")
    )
    m = json.loads((out / "manifest.json").read_text())
    m["format_version"] = "2.0"
    (out / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(
        FormatVersionError,
        match="built with format version 2.0, this rrsis-bench reads 1.0; rebuild",
    ):
        store.open_dataset(out)


def test_split_checks(tmp_path: Path) -> None:
    out = store.write_dataset(
        tmp_path / "built", make_records(tmp_path / "raw", n=2), make_inputs(), Report("toy")
    )
    ds = store.open_dataset(out)
    assert ds.splits == ["train"]
    assert ds.check_split("train") == "train"
    with pytest.raises(
        DatasetNotFoundError, match="the build has no split 'validation'; it has train"
    ):
        ds.check_split("validation")


def test_default_out_follows_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RRSIS_BENCH_HOME", str(tmp_path / "h"))
    assert store.default_out("rrsis-d") == tmp_path / "h" / "rrsis-d"


def test_damaged_or_missing_shard_is_one_clear_error(tmp_path: Path) -> None:
    from rrsis_bench.errors import FormatError

    out = store.write_dataset(
        tmp_path / "built", make_records(tmp_path / "raw", n=4), make_inputs(), Report("toy")
    )
    shard = out / "data/train-00000-of-00001.parquet"
    shard.write_bytes(shard.read_bytes()[:3000])
    ds = store.open_dataset(out)
    with pytest.raises(FormatError) as info:
        list(ds.iter_rows("train", columns=["image_id"]))
    assert str(info.value).startswith(f"{shard}: unreadable parquet shard (")
    assert str(info.value).endswith(
        "the build is damaged: rebuild it (`rrsis-bench build <dataset> --raw DIR --overwrite`)"
    )
    with pytest.raises(FormatError, match="unreadable parquet shard"):
        ds.read_table("train")
    (out / "data/val-00000-of-00001.parquet").unlink()
    with pytest.raises(
        DatasetNotFoundError,
        match="a shard listed in the manifest is missing; the build is incomplete",
    ):
        list(ds.iter_rows("val"))


def test_sigterm_during_a_build_cleans_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal

    recs = make_records(tmp_path / "raw", n=8)
    out = store.write_dataset(tmp_path / "built", recs, make_inputs(), Report("toy"))
    before = _hashes(out)
    real = store.write_shard
    calls = {"n": 0}

    def terminated(path: Path, records: list) -> object:  # type: ignore[type-arg]
        calls["n"] += 1
        if calls["n"] == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(path, records)

    monkeypatch.setattr(store, "write_shard", terminated)
    with pytest.raises(KeyboardInterrupt, match="signal 15"):
        store.write_dataset(out, recs[:3], make_inputs(), Report("toy"), overwrite=True)
    assert _hashes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["built", "raw"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handler restored


def test_leftovers_of_a_killed_build_are_removed(tmp_path: Path) -> None:
    import os

    recs = make_records(tmp_path / "raw", n=4)
    dead = tmp_path / ".built.partial-999999999-deadbeef"
    (dead / "data").mkdir(parents=True)
    mine = tmp_path / f".built.partial-{os.getppid()}-cafe"  # a running process: kept
    mine.mkdir()
    other = tmp_path / ".other.partial-999999999-beef"  # another target: kept
    other.mkdir()
    store.write_dataset(tmp_path / "built", recs, make_inputs(), Report("toy"))
    assert not dead.exists()
    assert mine.is_dir() and other.is_dir()
