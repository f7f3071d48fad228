"""Phrase-file parsing, text noise and lexicon categories."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rrsis_bench.builders.phrase_text import (
    LineProblem,
    PhraseLine,
    categories_from_text,
    parse_line,
    read_phrase_file,
    split_token,
)
from rrsis_bench.builders.refsegrs import LEXICON
from rrsis_bench.errors import FormatError

DIGITS = re.compile(r"\d+")


def test_parse_line_strip_and_split_once() -> None:
    line = parse_line("4213 van  driving on the road", 7, DIGITS)
    assert line == PhraseLine(
        "4213", "4213", "", "van  driving on the road", 7, ("irregular spacing",)
    )
    assert not line.normalized
    crlf = parse_line(" 39 road \r", 1, DIGITS)
    assert isinstance(crlf, PhraseLine)
    assert (crlf.text, crlf.noise, crlf.normalized) == (
        "road",
        ("CR line ending", "outer whitespace"),
        True,
    )


def test_parse_line_with_extension_and_noise() -> None:
    line = parse_line("train_14703_0.png The small vehicle ; near the café .", 2)
    assert isinstance(line, PhraseLine)
    assert (line.token, line.stem, line.suffix) == ("train_14703_0.png", "train_14703_0", ".png")
    assert line.noise == ("non-ASCII", "irregular spacing")
    inner_cr = parse_line("5 a\rb", 1)
    assert isinstance(inner_cr, PhraseLine) and inner_cr.noise == ("CR inside",)


def test_parse_line_problems() -> None:
    assert parse_line("   ", 3) is None
    assert parse_line("\r", 3) is None
    assert parse_line("4213", 4, DIGITS) == LineProblem(
        "text-empty", 4, "id '4213' has no expression after it"
    )
    assert parse_line("abc road", 5, DIGITS) == LineProblem(
        "line-malformed",
        5,
        "the first token 'abc' is not an id matching `\\d+`; expected `<id> <expression>`",
    )
    assert parse_line("../x.png road", 6) == LineProblem(
        "line-malformed",
        6,
        "the first token '../x.png' is not a file name without folders; expected `<id> <expression>`",
    )


def test_split_token() -> None:
    assert split_token("12.TIF") == ("12", ".TIF")
    assert split_token("a.b.jpeg") == ("a.b", ".jpeg")
    assert split_token(".png") == (".png", "")
    assert split_token("x.txt") == ("x.txt", "")


def test_read_phrase_file(tmp_path: Path) -> None:
    path = tmp_path / "output_phrase_val.txt"
    path.write_bytes(b"1 road\r\n2 car\r\n\r\nxx bad\r\n3 \xff\xfe\r\n4\r\n")
    lines, problems, crlf = read_phrase_file(path, DIGITS)
    assert [(li.stem, li.text, li.lineno) for li in lines] == [("1", "road", 1), ("2", "car", 2)]
    assert [(p.rule, p.lineno) for p in problems] == [
        ("line-malformed", 4),
        ("line-malformed", 5),
        ("text-empty", 6),
    ]
    assert problems[1].message == "not UTF-8 text (byte 2: b'\\xff')"
    assert crlf == 5


def test_read_phrase_file_structural_errors(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_bytes(b"")
    with pytest.raises(FormatError, match=r"p\.txt: is empty"):
        read_phrase_file(path)
    path.write_bytes(b"12\n13\n")
    with pytest.raises(FormatError) as exc:
        read_phrase_file(path)
    assert str(exc.value) == (
        f"{path}: no line of the form `<id> <expression>` (2 unusable lines; first line: "
        "b'12'); is this a phrase file of this dataset?"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("road marking", ["road marking"]),
        ("vehicle driving on the road", ["vehicle", "road"]),
        ("car driving on the road", ["car", "road"]),
        ("light-duty vehicle in the parking area", ["vehicle"]),
        ("low vegetation surrounded by building", ["low vegetation", "building"]),
        ("Impervious Surface", ["impervious surface"]),
        ("buses and trucks near trees", ["bus", "truck", "tree"]),
        ("long truck", ["truck"]),
        ("heavy-duty vehicle", ["vehicle"]),
        ("caravan on the roadside", []),
        ("road and road marking and road", ["road", "road marking"]),
    ],
)
def test_categories_from_text(text: str, expected: list[str]) -> None:
    assert categories_from_text(text, LEXICON) == expected
