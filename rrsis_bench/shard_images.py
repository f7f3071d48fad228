r"""Random access to the image bytes stored in a built dataset's parquet shards.

A shard stores each image file's bytes unchanged in the uncompressed, plain-encoded column
``image.bytes``, so every image is one contiguous byte range of the shard file. This module finds
those ranges by walking the parquet page headers of that column (a few hundred bytes read per
page, never the image data) and then reads one image with one ``seek`` + ``read``. Random access
therefore costs one image's bytes, not a whole row group (up to 32 MiB).

When a shard does not have that layout (compressed or dictionary-encoded image column, a page
type this reader does not know), it falls back to reading the image column of the row group
with pyarrow, keeping the last row group in memory.

Example:
    >>> reader = ShardImageReader([Path("data/train-00000-of-00001.parquet")])  # doctest: +SKIP
    >>> reader.read(0, 3)[:3]                                                    # doctest: +SKIP
    b'\\xff\\xd8\\xff'
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

from rrsis_bench.store import open_shard

IMAGE_BYTES_COLUMN = "image.bytes"

# thrift compact protocol type ids
_T_STOP, _T_TRUE, _T_FALSE, _T_BYTE, _T_I16, _T_I32, _T_I64 = 0, 1, 2, 3, 4, 5, 6
_T_DOUBLE, _T_BINARY, _T_LIST, _T_SET, _T_MAP, _T_STRUCT = 7, 8, 9, 10, 11, 12

_DATA_PAGE, _INDEX_PAGE, _DICTIONARY_PAGE, _DATA_PAGE_V2 = 0, 1, 2, 3
_PLAIN = 0


class _Unsupported(Exception):
    """The shard's image column is not laid out as this reader expects (use the fallback)."""


class _Truncated(Exception):
    """The header buffer ended before the thrift struct did (read more and retry)."""


class _Thrift:
    """A minimal thrift compact-protocol reader: enough for parquet ``PageHeader``."""

    def __init__(self, buf: bytes):
        self.buf = buf
        self.pos = 0

    def _byte(self) -> int:
        if self.pos >= len(self.buf):
            raise _Truncated
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self._byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def _skip_bytes(self, n: int) -> None:
        if self.pos + n > len(self.buf):
            raise _Truncated
        self.pos += n

    def value(self, ttype: int) -> Any:
        if ttype in (_T_TRUE, _T_FALSE):
            return ttype == _T_TRUE
        if ttype == _T_BYTE:
            return self._byte()
        if ttype in (_T_I16, _T_I32, _T_I64):
            return self.zigzag()
        if ttype == _T_DOUBLE:
            self._skip_bytes(8)
            return None
        if ttype == _T_BINARY:
            self._skip_bytes(self.varint())
            return None
        if ttype in (_T_LIST, _T_SET):
            head = self._byte()
            size = head >> 4
            if size == 15:
                size = self.varint()
            elem = head & 0x0F
            for _ in range(size):
                if elem in (_T_TRUE, _T_FALSE):
                    self._byte()
                else:
                    self.value(elem)
            return None
        if ttype == _T_MAP:
            size = self.varint()
            if size:
                kv = self._byte()
                for _ in range(size):
                    self.value(kv >> 4)
                    self.value(kv & 0x0F)
            return None
        if ttype == _T_STRUCT:
            return self.struct()
        raise _Unsupported(f"unknown thrift type {ttype}")

    def struct(self) -> dict[int, Any]:
        fields: dict[int, Any] = {}
        last = 0
        while True:
            head = self._byte()
            ttype = head & 0x0F
            if ttype == _T_STOP:
                return fields
            delta = head >> 4
            fid = last + delta if delta else self.zigzag()
            fields[fid] = self.value(ttype)
            last = fid


def _rle_levels(data: bytes, bit_width: int, count: int) -> list[int]:
    """Decode parquet's RLE / bit-packed hybrid encoding into ``count`` levels."""
    out: list[int] = []
    pos = 0
    byte_width = (bit_width + 7) // 8
    mask = (1 << bit_width) - 1
    while len(out) < count:
        if pos >= len(data):
            raise _Unsupported("definition levels end early")
        shift = header = 0
        while True:
            b = data[pos]
            pos += 1
            header |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
        if header & 1:
            groups = header >> 1
            nbytes = groups * bit_width
            bits = int.from_bytes(data[pos : pos + nbytes], "little")
            pos += nbytes
            for i in range(groups * 8):
                out.append((bits >> (i * bit_width)) & mask)
        else:
            run = header >> 1
            value = int.from_bytes(data[pos : pos + byte_width], "little")
            pos += byte_width
            out.extend([value] * run)
    return out[:count]


def _read_at(f: BinaryIO, offset: int, n: int) -> bytes:
    f.seek(offset)
    data = f.read(n)
    if len(data) != n:
        raise _Unsupported("file ends inside a page")
    return data


def _page_header(f: BinaryIO, offset: int) -> tuple[dict[int, Any], int]:
    size = 256
    while True:
        f.seek(offset)
        buf = f.read(size)
        reader = _Thrift(buf)
        try:
            header = reader.struct()
        except _Truncated:
            if len(buf) < size or size > (1 << 24):
                raise _Unsupported("truncated page header") from None
            size *= 4
            continue
        return header, reader.pos


def image_ranges(path: Path) -> list[tuple[int, int] | None]:
    """Byte ranges ``(offset, length)`` of every row's image in a shard (``None``: no bytes).

    Raises:
        _Unsupported: If the image column is not uncompressed, plain-encoded and unrepeated.
    """
    pf = open_shard(Path(path))
    meta = pf.metadata
    names = [pf.schema.column(i).path for i in range(meta.num_columns)]
    if IMAGE_BYTES_COLUMN not in names:
        raise _Unsupported("no image.bytes column")
    col = names.index(IMAGE_BYTES_COLUMN)
    descr = pf.schema.column(col)
    if descr.max_repetition_level != 0:
        raise _Unsupported("repeated image column")
    max_def = descr.max_definition_level
    bit_width = max_def.bit_length()
    ranges: list[tuple[int, int] | None] = []
    with open(path, "rb") as f:
        for rg in range(meta.num_row_groups):
            cmeta = meta.row_group(rg).column(col)
            if cmeta.compression != "UNCOMPRESSED" or cmeta.has_dictionary_page:
                raise _Unsupported("compressed or dictionary-encoded image column")
            rows = meta.row_group(rg).num_rows
            pos = int(cmeta.data_page_offset)
            end = pos + int(cmeta.total_compressed_size)
            seen = 0
            while seen < rows:
                if pos >= end:
                    raise _Unsupported("column chunk ends before its rows")
                header, hlen = _page_header(f, pos)
                ptype, psize = header.get(1), int(header.get(3, -1))
                body = pos + hlen
                if ptype == _DATA_PAGE:
                    dph = header.get(5) or {}
                    n, encoding = int(dph.get(1, 0)), dph.get(2)
                    if encoding != _PLAIN:
                        raise _Unsupported("image column is not plain-encoded")
                    vpos = body
                    levels = [max_def] * n
                    if max_def:
                        (dlen,) = struct.unpack("<i", _read_at(f, vpos, 4))
                        levels = _rle_levels(_read_at(f, vpos + 4, dlen), bit_width, n)
                        vpos += 4 + dlen
                elif ptype == _DATA_PAGE_V2:
                    dph = header.get(8) or {}
                    n, encoding = int(dph.get(1, 0)), dph.get(4)
                    if encoding != _PLAIN:
                        raise _Unsupported("image column is not plain-encoded")
                    dlen, rlen = int(dph.get(5, 0)), int(dph.get(6, 0))
                    levels = [max_def] * n
                    if max_def:
                        levels = _rle_levels(_read_at(f, body + rlen, dlen), bit_width, n)
                    vpos = body + rlen + dlen
                elif ptype in (_INDEX_PAGE, _DICTIONARY_PAGE):
                    pos = body + psize
                    continue
                else:
                    raise _Unsupported(f"unknown page type {ptype}")
                for level in levels:
                    if level == max_def:
                        (vlen,) = struct.unpack("<i", _read_at(f, vpos, 4))
                        ranges.append((vpos + 4, vlen))
                        vpos += 4 + vlen
                    else:
                        ranges.append(None)
                if vpos != body + psize:
                    raise _Unsupported("page values do not fill the page")
                seen += n
                pos = body + psize
            if seen != rows:
                raise _Unsupported("page value count differs from the row count")
    return ranges


class ShardImageReader:
    """Reads the image bytes of row ``k`` of shard ``s`` (picklable; files reopen per process).

    Args:
        shards: The parquet shards, in order.
    """

    def __init__(self, shards: Sequence[Path]):
        self.shards = [Path(p) for p in shards]
        self._ranges: dict[int, list[tuple[int, int] | None] | None] = {}
        self._files: dict[int, BinaryIO] = {}
        self._pid = os.getpid()
        self._cache_key: tuple[int, int] | None = None
        self._cache: list[Any] = []
        self._row_groups: dict[int, list[int]] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_files"] = {}
        state["_cache_key"] = None
        state["_cache"] = []
        return state

    def close(self) -> None:
        """Close the open shard files."""
        for f in self._files.values():
            f.close()
        self._files = {}

    def uses_byte_ranges(self, shard: int) -> bool:
        """Whether images of this shard are read by byte range (else by row group)."""
        return self._shard_ranges(shard) is not None

    def _shard_ranges(self, shard: int) -> list[tuple[int, int] | None] | None:
        if shard not in self._ranges:
            try:
                self._ranges[shard] = image_ranges(self.shards[shard])
            except _Unsupported:
                self._ranges[shard] = None
        return self._ranges[shard]

    def _file(self, shard: int) -> BinaryIO:
        if self._pid != os.getpid():
            self._files, self._pid = {}, os.getpid()
        f = self._files.get(shard)
        if f is None:
            f = self._files[shard] = open(self.shards[shard], "rb")
        return f

    def read(self, shard: int, row: int) -> bytes | None:
        """The image bytes of one row (``None`` if the row stores no bytes)."""
        ranges = self._shard_ranges(shard)
        if ranges is not None:
            rng = ranges[row]
            if rng is None:
                return None
            f = self._file(shard)
            f.seek(rng[0])
            return f.read(rng[1])
        return self._read_row_group(shard, row)

    def _read_row_group(self, shard: int, row: int) -> bytes | None:
        starts = self._row_groups.get(shard)
        pf = open_shard(Path(self.shards[shard]))
        if starts is None:
            starts, total = [], 0
            for rg in range(pf.metadata.num_row_groups):
                starts.append(total)
                total += pf.metadata.row_group(rg).num_rows
            self._row_groups[shard] = starts
        rg = max(i for i, s in enumerate(starts) if s <= row)
        if self._cache_key != (shard, rg):
            table = pf.read_row_group(rg, columns=["image"])
            self._cache = table.column("image").to_pylist()
            self._cache_key = (shard, rg)
        entry = self._cache[row - starts[rg]]
        return None if entry is None else entry.get("bytes")
