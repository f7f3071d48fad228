from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rrsis_bench.shard_images import ShardImageReader, image_ranges

IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def _values(n: int, seed: int = 0) -> list[bytes | None]:
    rng = np.random.default_rng(seed)
    out: list[bytes | None] = []
    for i in range(n):
        size = int(rng.integers(1, 3000))
        out.append(None if i == 5 else rng.integers(0, 256, size, dtype=np.uint8).tobytes())
    return out


def _write(path: Path, values: list[bytes | None], **options) -> None:
    images = pa.array(
        [{"bytes": v, "path": f"{i}.jpg"} for i, v in enumerate(values)], type=IMAGE_TYPE
    )
    table = pa.table({"image_id": [str(i) for i in range(len(values))], "image": images})
    defaults = {
        "compression": "NONE",
        "use_dictionary": False,
        "write_statistics": False,
        "row_group_size": 7,
        "data_page_size": 4096,
    }
    pq.write_table(table, path, **(defaults | options))


@pytest.mark.parametrize("version", ["1.0", "2.0"])
def test_byte_ranges_match_pyarrow_across_pages_and_row_groups(tmp_path: Path, version: str):
    values = _values(23)
    path = tmp_path / "shard.parquet"
    _write(path, values, data_page_version=version)
    assert pq.ParquetFile(path).metadata.num_row_groups == 4
    ranges = image_ranges(path)
    assert len(ranges) == 23
    assert ranges[5] is None
    reader = ShardImageReader([path])
    assert reader.uses_byte_ranges(0)
    assert [reader.read(0, i) for i in range(23)] == values


def test_falls_back_to_row_groups_when_compressed(tmp_path: Path):
    values = _values(15, seed=1)
    path = tmp_path / "zstd.parquet"
    _write(path, values, compression="ZSTD")
    reader = ShardImageReader([path])
    assert not reader.uses_byte_ranges(0)
    assert [reader.read(0, i) for i in (14, 0, 8, 5)] == [values[14], values[0], values[8], None]


def test_falls_back_with_dictionary_encoding(tmp_path: Path):
    values = _values(9, seed=2)
    path = tmp_path / "dict.parquet"
    _write(path, values, use_dictionary=True)
    reader = ShardImageReader([path])
    assert not reader.uses_byte_ranges(0)
    assert [reader.read(0, i) for i in range(9)] == values


def test_reader_pickles_without_files_and_reads_several_shards(tmp_path: Path):
    a, b = _values(4, seed=3), _values(8, seed=4)
    _write(tmp_path / "a.parquet", a)
    _write(tmp_path / "b.parquet", b)
    reader = ShardImageReader([tmp_path / "a.parquet", tmp_path / "b.parquet"])
    assert reader.read(1, 7) == b[7]
    clone = pickle.loads(pickle.dumps(reader))
    assert clone._files == {}
    assert clone.read(0, 3) == a[3] and clone.read(1, 0) == b[0]
    reader.close()
