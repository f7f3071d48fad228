r"""Phrase files (``output_phrase_<split>.txt``): parsing, text checks and lexicon categories.

A phrase file holds one referring expression per line: ``<id or file name> <sentence>``. A
line is parsed the way the reference loaders do it: line terminator removed, ``strip()``, split
once on whitespace. The first token names the image and mask files (with or without an
extension); the rest of the line, unchanged, is the expression.

Example:
    >>> entry = parse_line("  4213 van driving on the road \r", lineno=3)
    >>> entry.token, entry.text, entry.noise
    ('4213', 'van driving on the road', ('CR line ending', 'outer whitespace'))
    >>> categories_from_text("the road marking next to a car", ("road", "road marking", "car"))
    ['road marking', 'car']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rrsis_bench.errors import FormatError

IMAGE_SUFFIXES: tuple[str, ...] = (".tif", ".tiff", ".png", ".jpg", ".jpeg", ".bmp")
"""File-name suffixes recognised in the first token (case-insensitive)."""

_SPACING = re.compile(r"\s{2,}|\t|\s[.,;:!?](?:\s|$)")


@dataclass(frozen=True)
class PhraseLine:
    """One parsed line of a phrase file.

    Attributes:
        token: The first token as written (``4213`` or ``train_14703_0.png``).
        stem: The token without a recognised image suffix (the image id).
        suffix: The recognised suffix (``.png``), or ``""`` when the token has none.
        text: The expression: the rest of the line after the split, unchanged.
        lineno: 1-based line number in the file.
        noise: Text problems found (``CR line ending``, ``outer whitespace``, ``CR inside``,
            ``non-ASCII``, ``irregular spacing``); informational.
    """

    token: str
    stem: str
    suffix: str
    text: str
    lineno: int
    noise: tuple[str, ...] = ()

    @property
    def normalized(self) -> bool:
        """True when the stored text differs from the raw line (CR or outer whitespace removed)."""
        return any(n in ("CR line ending", "outer whitespace") for n in self.noise)


@dataclass(frozen=True)
class LineProblem:
    """A line that could not be used: ``rule`` is ``line-malformed`` or ``text-empty``."""

    rule: str
    lineno: int
    message: str


def split_token(token: str) -> tuple[str, str]:
    """Split the first token into (stem, suffix) when it ends with an image suffix.

    Example:
        >>> split_token("train_14703_0.png"), split_token("4213")
        (('train_14703_0', '.png'), ('4213', ''))
    """
    lower = token.lower()
    for suffix in IMAGE_SUFFIXES:
        if lower.endswith(suffix) and len(token) > len(suffix):
            return token[: -len(suffix)], token[-len(suffix) :]
    return token, ""


def parse_line(
    raw: str, lineno: int, id_pattern: re.Pattern[str] | None = None
) -> PhraseLine | LineProblem | None:
    r"""Parse one line (its ``\n`` already removed); ``None`` for a blank line.

    Args:
        raw: The line's text without the ``\n`` terminator (a trailing ``\r`` is allowed).
        lineno: 1-based line number, kept for provenance and findings.
        id_pattern: The stem (token without suffix) must match it in full (default: any token
            without a path separator).
    """
    noise: list[str] = []
    body = raw
    if body.endswith("\r"):
        body = body[:-1]
        noise.append("CR line ending")
    stripped = body.strip()
    if not stripped:
        return None
    if stripped != body:
        noise.append("outer whitespace")
    parts = stripped.split(maxsplit=1)
    token = parts[0]
    stem, suffix = split_token(token)
    bad_id = "/" in token or "\\" in token or token in (".", "..")
    if id_pattern is not None and not id_pattern.fullmatch(stem):
        bad_id = True
    if bad_id:
        expected = (
            f"an id matching `{id_pattern.pattern}`"
            if id_pattern is not None
            else "a file name without folders"
        )
        return LineProblem(
            "line-malformed",
            lineno,
            f"the first token {token[:40]!r} is not {expected}; expected `<id> <expression>`",
        )
    if len(parts) < 2:
        return LineProblem("text-empty", lineno, f"id {token!r} has no expression after it")
    text = parts[1]
    if "\r" in text:
        noise.append("CR inside")
    if not text.isascii():
        noise.append("non-ASCII")
    if _SPACING.search(text):
        noise.append("irregular spacing")
    return PhraseLine(token, stem, suffix, text, lineno, tuple(noise))


def read_phrase_file(
    path: Path, id_pattern: re.Pattern[str] | None = None
) -> tuple[list[PhraseLine], list[LineProblem], int]:
    """Read a phrase file into parsed lines and per-line problems.

    Returns:
        ``(lines, problems, crlf)``: parsed lines in file order, the lines that could not be
        used, and how many lines ended with CRLF.

    Raises:
        FormatError: If the file is binary (NUL bytes), empty, or has no parsable line at all;
            the message names the file and shows its first line.
    """
    data = path.read_bytes()
    if b"\x00" in data:
        raise FormatError(
            "holds NUL bytes: this is not a text phrase file (expected lines "
            "`<id> <expression>`); download or extract the release again",
            path,
        )
    if not data.strip():
        raise FormatError(
            "is empty; expected one `<id> <expression>` line per sample. Download or "
            "extract the release again",
            path,
        )
    lines: list[PhraseLine] = []
    problems: list[LineProblem] = []
    crlf = 0
    for lineno, raw_bytes in enumerate(data.split(b"\n"), start=1):
        try:
            raw = raw_bytes.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(
                LineProblem(
                    "line-malformed",
                    lineno,
                    f"not UTF-8 text (byte {exc.start}: {raw_bytes[exc.start : exc.start + 1]!r})",
                )
            )
            continue
        if raw.endswith("\r"):
            crlf += 1
        parsed = parse_line(raw, lineno, id_pattern)
        if parsed is None:
            continue
        if isinstance(parsed, LineProblem):
            problems.append(parsed)
        else:
            lines.append(parsed)
    if not lines:
        first = data.split(b"\n", 1)[0][:60]
        raise FormatError(
            f"no line of the form `<id> <expression>` ({len(problems)} unusable lines; "
            f"first line: {first!r}); is this a phrase file of this dataset?",
            path,
        )
    return lines, problems, crlf


def _lexicon_pattern(word: str) -> re.Pattern[str]:
    body = r"\s+".join(re.escape(w) for w in word.lower().split())
    return re.compile(rf"(?<![\w-]){body}(?:s|es)?(?![\w-])")


def categories_from_text(text: str, lexicon: Sequence[str]) -> list[str]:
    """Lexicon words found in ``text``, longest match first, listed in order of appearance.

    Matching is case-insensitive on whole words (a plural ``s``/``es`` is accepted); a longer
    word claims its span first, so ``road marking`` is found once and ``road`` is not also
    reported for the same words.

    Example:
        >>> categories_from_text("Vehicles driving on the road", ("road", "vehicle"))
        ['vehicle', 'road']
    """
    lower = text.lower()
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, str]] = []
    for word in sorted(dict.fromkeys(lexicon), key=lambda w: (-len(w), w)):
        for m in _lexicon_pattern(word).finditer(lower):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append((m.start(), m.end()))
            if word not in (w for _, w in found):
                found.append((m.start(), word))
    return [w for _, w in sorted(found)]
