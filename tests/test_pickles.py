"""The restricted unpickler for REFER refs files."""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from rrsis_bench.builders.pickles import load_pickle, loads
from rrsis_bench.errors import DatasetNotFoundError, FormatError, UnsafePickleError

REF = {
    "image_id": 2934,
    "split": "train",
    "sentences": [
        {
            "tokens": ["The", "baseball", "field"],
            "raw": "The baseball field",
            "sent_id": 2934,
            "sent": "The baseball field",
        }
    ],
    "file_name": "02934.jpg",
    "category_id": 4,
    "ann_id": 2934,
    "sent_ids": [2934],
    "ref_id": 2934,
}


def _short_binstring(b: bytes) -> bytes:
    return b"U" + bytes([len(b)]) + b


def _py2_protocol2_refs() -> bytes:
    """A list holding one ref dict, as Python 2's cPickle writes it at protocol 2."""
    out = b"\x80\x02]q\x00}q\x01("
    out += _short_binstring(b"ref_id") + b"K\x07"
    out += _short_binstring(b"split") + _short_binstring(b"val")
    out += _short_binstring(b"sent") + _short_binstring("跑道上的飞机".encode())
    out += _short_binstring(b"latin") + _short_binstring(b"caf\xe9")
    out += (
        _short_binstring(b"ann_ids") + b"c__builtin__\nset\nq\x02]q\x03(K\x01K\x02e\x85q\x04Rq\x05"
    )
    out += _short_binstring(b"big") + b"\x8a\x09" + (2**64).to_bytes(9, "little")
    out += b"ua."
    return out


def _py2_protocol0_refs() -> bytes:
    return (
        b"(lp0\n(dp1\nS'ref_id'\np2\nI12\nsS'raw'\np3\nS'a white ship'\np4\n"
        b"sS'area'\np5\nL279213L\nsS'box'\np6\n(F1.5\nF2.0\ntp7\nsa."
    )


def _py2_numpy_scalar(code: bytes, order: bytes, raw: bytes) -> bytes:
    """``numpy.int64(...)`` etc. as Python 2 numpy pickles them (protocol 2)."""
    return (
        b"\x80\x02cnumpy.core.multiarray\nscalar\nq\x00cnumpy\ndtype\nq\x01"
        + _short_binstring(code)
        + b"K\x00K\x01\x87q\x02Rq\x03(K\x03"
        + _short_binstring(order)
        + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tq\x04b"
        + _short_binstring(raw)
        + b"\x86q\x05Rq\x06."
    )


def test_plain_python3_refs_round_trip() -> None:
    for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
        assert loads(pickle.dumps([REF], protocol=protocol)) == [REF]


def test_bytes_and_builtin_containers_protocol2() -> None:
    obj = {"a": (1, 2.5, True, None), "b": {3, 4}, "c": frozenset({"x"}), "d": b"raw", "e": 3j}
    got = loads(pickle.dumps(obj, protocol=2))
    assert got == {
        "a": (1, 2.5, True, None),
        "b": {3, 4},
        "c": frozenset({"x"}),
        "d": "raw",
        "e": 3j,
    }


def test_python2_protocol2_byte_strings_are_decoded() -> None:
    got = loads(_py2_protocol2_refs())
    assert got == [
        {
            "ref_id": 7,
            "split": "val",
            "sent": "跑道上的飞机",
            "latin": "café",
            "ann_ids": {1, 2},
            "big": 2**64,
        }
    ]
    assert all(isinstance(k, str) for k in got[0])


def test_python2_protocol0() -> None:
    assert loads(_py2_protocol0_refs()) == [
        {"ref_id": 12, "raw": "a white ship", "area": 279213, "box": (1.5, 2.0)}
    ]


@pytest.mark.parametrize(
    ("value", "expected", "kind"),
    [
        (np.int64(2934), 2934, int),
        (np.int32(-5), -5, int),
        (np.uint8(200), 200, int),
        (np.float32(1.5), 1.5, float),
        (np.float64(0.1), 0.1, float),
        (np.float16(0.5), 0.5, float),
        (np.bool_(True), True, bool),
    ],
)
def test_numpy_scalars_become_plain_numbers(value: object, expected: object, kind: type) -> None:
    for protocol in (2, 4, 5):
        got = loads(pickle.dumps({"v": value}, protocol=protocol))["v"]
        assert type(got) is kind
        assert got == expected


def test_python2_numpy_scalars() -> None:
    assert loads(_py2_numpy_scalar(b"i8", b"<", struct.pack("<q", 17402))) == 17402
    assert loads(_py2_numpy_scalar(b"f8", b"<", struct.pack("<d", 0.25))) == 0.25
    assert loads(_py2_numpy_scalar(b"i4", b">", struct.pack(">i", -3))) == -3
    got = loads(_py2_numpy_scalar(b"b1", b"|", b"\x01"))
    assert got is True


class _System:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


class _Eval:
    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (eval, ("1+1",))


class _Obj:
    pass


def test_os_system_is_refused_and_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "refs(unc).p"
    path.write_bytes(pickle.dumps([REF, _System(marker)], protocol=2))
    with pytest.raises(UnsafePickleError) as info:
        load_pickle(path)
    assert str(info.value) == (
        f"{path}: refused global posix.system: a refs pickle may hold only built-in containers, "
        "strings and numbers (nothing in the file was executed); download the file again from "
        "the dataset's official source"
    )
    assert not marker.exists()


@pytest.mark.parametrize(
    ("payload", "refused"),
    [
        (pickle.dumps(_Eval()), "builtins.eval"),
        (
            b"ccopy_reg\n_reconstructor\n(c__main__\nRef\nc__builtin__\nobject\nNtR.",
            "copy_reg._reconstructor",
        ),
        (pickle.dumps(_Obj(), protocol=2), "test_pickles._Obj"),
        (pickle.dumps(_Obj(), protocol=4), "test_pickles._Obj"),
        (pickle.dumps(np.arange(3)), "numpy"),
        (b"cos\nsystem\n(S'echo hi'\ntR.", "os.system"),
        (b"c__builtin__\ngetattr\n(c__builtin__\nlist\nS'append'\ntR.", "__builtin__.getattr"),
        (b"\x80\x02csubprocess\nPopen\n]U\x02lsa\x85R.", "subprocess.Popen"),
        (b"c__builtin__\n__import__\n(S'os'\ntR.", "__builtin__.__import__"),
    ],
)
def test_hostile_globals_are_refused(payload: bytes, refused: str) -> None:
    with pytest.raises(UnsafePickleError, match=r"^refs\(unc\)\.p: refused global ") as info:
        loads(payload, source="refs(unc).p")
    assert refused in str(info.value)


def test_persistent_ids_are_refused() -> None:
    with pytest.raises(UnsafePickleError, match=r"^x\.p: refused persistent id 'evil'"):
        loads(b"Pevil\n.", source="x.p")


def test_codecs_encode_limited_to_text_codecs() -> None:
    payload = b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00xX\x04\x00\x00\x00zlib\x86R."
    with pytest.raises(FormatError) as info:
        loads(payload, source="x.p")
    assert str(info.value) == (
        "x.p: not a plain refs pickle (_codecs.encode with codec 'zlib' is not admitted); "
        "expected built-in containers, strings and numbers"
    )


def test_truncated_and_garbage_files(tmp_path: Path) -> None:
    path = tmp_path / "refs(unc).p"
    path.write_bytes(pickle.dumps([REF] * 3, protocol=2)[:-40])
    with pytest.raises(FormatError) as info:
        load_pickle(path)
    assert str(info.value).startswith(f"{path}: not a readable pickle (")
    assert str(info.value).endswith("the file may be truncated or corrupt: download it again")
    path.write_bytes(b"<html>quota exceeded</html>")
    with pytest.raises(FormatError, match=r"not a readable pickle \(UnpicklingError"):
        load_pickle(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"refs\(unc\)\.p: pickle file not found$"):
        load_pickle(tmp_path / "refs(unc).p")
