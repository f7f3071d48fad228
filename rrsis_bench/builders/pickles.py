"""A restricted unpickler for REFER ``refs(*).p`` files.

``refs(unc).p`` is a pickled ``list[dict]``. Unpickling with :mod:`pickle` runs whatever
callable the file names, so a downloaded pickle is read here with an unpickler that admits
only:

* built-in containers and scalars (``dict``, ``list``, ``tuple``, ``set``, ``frozenset``,
  ``str``, ``bytes``, ``bytearray``, ``int``, ``float``, ``complex``, ``bool``; the Python 2
  spellings ``__builtin__.unicode`` and ``__builtin__.long``; ``collections.OrderedDict``
  read as ``dict``; ``_codecs.encode`` limited to text codecs, which Python 3 uses to pickle
  ``bytes`` at protocol 2);
* numpy scalars (``numpy.core.multiarray.scalar`` with a ``numpy.dtype``), rebuilt by a shim
  that decodes the raw bytes with :mod:`struct` into a plain ``int``, ``float`` or ``bool``:
  no numpy code runs.

Python 2 pickles are read too: byte strings (Python 2 ``str``) are decoded as UTF-8, falling
back to Latin-1, everywhere in the result, dictionary keys included. Any other global is
refused with :class:`~rrsis_bench.errors.UnsafePickleError` naming the file and the global
before anything it names is called.

Example:
    >>> import pickle
    >>> loads(pickle.dumps([{"ref_id": 1, "sentences": [{"raw": "a ship"}]}]))
    [{'ref_id': 1, 'sentences': [{'raw': 'a ship'}]}]
    >>> class Evil:
    ...     def __reduce__(self):
    ...         import os
    ...         return (os.system, ("echo pwned",))
    >>> loads(pickle.dumps(Evil()), source="refs(unc).p")
    Traceback (most recent call last):
    ...
    rrsis_bench.errors.UnsafePickleError: refs(unc).p: refused global posix.system: ...
"""

from __future__ import annotations

import io
import pickle
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rrsis_bench.errors import DatasetNotFoundError, FormatError, UnsafePickleError

__all__ = ["SAFE_GLOBALS", "load_pickle", "loads"]


class _ShimError(Exception):
    """A numpy scalar or codec call the shim does not support."""


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1")
    return str(value)


class _DTypeShim:
    """Stands in for ``numpy.dtype`` while a pickle is read; holds the type code only."""

    def __init__(self, spec: Any = "", align: Any = False, copy: Any = True):
        self.spec = _text(spec)
        self.byteorder = "="

    def __setstate__(self, state: Any) -> None:
        # numpy's dtype state: (version, byteorder, subdescr, names, fields, elsize, align, flags)
        if isinstance(state, tuple) and len(state) >= 2 and state[1] is not None:
            self.byteorder = _text(state[1])


_STRUCT_CODES: dict[str, dict[int, str]] = {
    "i": {1: "b", 2: "h", 4: "i", 8: "q"},
    "u": {1: "B", 2: "H", 4: "I", 8: "Q"},
    "f": {2: "e", 4: "f", 8: "d"},
    "b": {1: "?"},
}


def _numpy_scalar(dtype: Any, data: Any = None) -> int | float | bool:
    """Rebuild a numpy scalar as a plain Python number from its dtype code and raw bytes."""
    if not isinstance(dtype, _DTypeShim):
        raise _ShimError("numpy scalar without a dtype")
    spec = dtype.spec
    order = dtype.byteorder
    if spec[:1] in "<>=|":
        order, spec = spec[0], spec[1:]
    kind, digits = spec[:1], spec[1:]
    if kind == "?":
        kind, digits = "b", "1"
    code = _STRUCT_CODES.get(kind, {}).get(int(digits) if digits.isdigit() else -1)
    if code is None:
        raise _ShimError(f"numpy scalar of dtype {dtype.spec!r} is not a plain number")
    if isinstance(data, str):
        data = data.encode("latin-1")
    if not isinstance(data, bytes | bytearray):
        raise _ShimError(f"numpy scalar of dtype {dtype.spec!r} has no raw bytes")
    prefix = ">" if order == ">" else "<"
    (value,) = struct.unpack(prefix + code, bytes(data))
    if kind == "b":
        return bool(value)
    if kind == "f":
        return float(value)
    return int(value)


_TEXT_CODECS = {"latin1", "latin-1", "iso-8859-1", "ascii", "utf-8", "utf8"}


def _codecs_encode(obj: Any, encoding: Any = "utf-8", errors: Any = "strict") -> bytes:
    enc = _text(encoding).lower()
    if enc not in _TEXT_CODECS or not isinstance(obj, str):
        raise _ShimError(f"_codecs.encode with codec {enc!r} is not admitted")
    return obj.encode(enc, _text(errors))


SAFE_GLOBALS: dict[tuple[str, str], Callable[..., Any]] = {
    **{
        (module, name): obj
        for module in ("builtins", "__builtin__")
        for name, obj in {
            "dict": dict,
            "list": list,
            "tuple": tuple,
            "set": set,
            "frozenset": frozenset,
            "str": str,
            "bytes": bytes,
            "bytearray": bytearray,
            "int": int,
            "float": float,
            "complex": complex,
            "bool": bool,
        }.items()
    },
    ("__builtin__", "unicode"): str,
    ("__builtin__", "long"): int,
    ("collections", "OrderedDict"): dict,
    ("_codecs", "encode"): _codecs_encode,
    ("numpy", "dtype"): _DTypeShim,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
}
"""Every global a refs pickle may name, mapped to what is used in its place."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, source: str):
        super().__init__(file, encoding="bytes")
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        key = (_text(module), _text(name))
        if key in SAFE_GLOBALS:
            return SAFE_GLOBALS[key]
        raise UnsafePickleError(
            f"refused global {key[0]}.{key[1]}: a refs pickle may hold only built-in "
            "containers, strings and numbers (nothing in the file was executed); "
            "download the file again from the dataset's official source",
            self.source,
        )

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(
            f"refused persistent id {pid!r}: a refs pickle may hold only built-in "
            "containers, strings and numbers (nothing in the file was executed)",
            self.source,
        )


def _decode_bytes(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


_SCALARS = frozenset({str, int, float, bool, complex, type(None)})


def _plain(obj: Any) -> Any:
    """Decode byte strings to text throughout a loaded structure."""
    t = type(obj)
    if t in _SCALARS:
        return obj
    if t is dict:
        return {
            (k if type(k) in _SCALARS else _plain(k)): (v if type(v) in _SCALARS else _plain(v))
            for k, v in obj.items()
        }
    if t is list:
        return [v if type(v) in _SCALARS else _plain(v) for v in obj]
    if isinstance(obj, bytes | bytearray):
        return _decode_bytes(bytes(obj))
    if isinstance(obj, tuple):
        return tuple(_plain(v) for v in obj)
    if isinstance(obj, set | frozenset):
        return type(obj)(_plain(v) for v in obj)
    if isinstance(obj, _DTypeShim):
        raise _ShimError("a bare numpy dtype is not refs data")
    if isinstance(obj, dict):  # OrderedDict and other dict subclasses
        return {_plain(k): _plain(v) for k, v in obj.items()}
    return obj


def loads(data: bytes, source: str = "<bytes>") -> Any:
    """Unpickle ``data`` with the restricted unpickler (see the module docstring).

    Args:
        data: The pickle's bytes.
        source: Name used in error messages (the file the bytes came from).

    Raises:
        UnsafePickleError: The pickle names a global outside :data:`SAFE_GLOBALS`.
        FormatError: The bytes are not a readable pickle (truncated, corrupt).
    """
    try:
        return _plain(_RestrictedUnpickler(io.BytesIO(data), source).load())
    except UnsafePickleError:
        raise
    except _ShimError as exc:
        raise FormatError(
            f"not a plain refs pickle ({exc}); expected built-in containers, strings and numbers",
            source,
        ) from exc
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        struct.error,
        OverflowError,
        RecursionError,
    ) as exc:
        raise FormatError(
            f"not a readable pickle ({type(exc).__name__}: {exc}); the file may be truncated "
            "or corrupt: download it again",
            source,
        ) from exc


def load_pickle(path: str | Path) -> Any:
    """Read a pickle file with the restricted unpickler.

    Raises:
        DatasetNotFoundError: The file does not exist.
        UnsafePickleError: The pickle names a global outside :data:`SAFE_GLOBALS`.
        FormatError: The file is not a readable pickle.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError as exc:
        raise DatasetNotFoundError(f"{p}: pickle file not found") from exc
    return loads(data, source=str(p))
