"""Finding the category word an expression mentions (English words and Chinese characters).

A :class:`CategoryLexicon` maps surface forms to category names. Its keys are

- the category names themselves, written without separators (``storagetank`` matches
  "storage tank", ``Expressway-Service-area`` matches "expressway service area"), and
- forms learned from a training split: word n-grams (English) and character n-grams (Chinese)
  that, in the training expressions containing them, name one category in at least
  ``min_precision`` of the cases (``runway`` for ``airplaneroad``, ``跑道`` for it in Chinese);
  only the shortest are kept (a form containing another form of its category adds nothing).

An English expression names its head first ("the *ship* to the left of the bridge"), a Chinese
one names it last ("桥梁左边的*船*"): :meth:`CategoryLexicon.find` returns the earliest match
in English text and the latest one in Chinese text, the longest where several start (end) at
the same place.

Example:
    >>> lex = CategoryLexicon.from_names(["storagetank", "ship"])
    >>> lex.find("the ships left of the storage tank"), lex.find("no match here")
    ('ship', None)
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

_WORD = re.compile(r"[a-z0-9]+")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
MAX_WORDS = 4
MAX_CHARS = 4


def _name_key(name: str) -> str:
    return "".join(_WORD.findall(name.lower()))


def _singular(token: str) -> list[str]:
    forms = [token]
    if len(token) > 3 and token.endswith("es"):
        forms.append(token[:-2])
    if len(token) > 3 and token.endswith("s") and not token.endswith("ss"):
        forms.append(token[:-1])
    return forms


def _word_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, joined form)`` of every window of up to 4 words (last word singularised)."""
    words = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(text.lower())]
    out = []
    for i in range(len(words)):
        for n in range(1, MAX_WORDS + 1):
            if i + n > len(words):
                break
            head = "".join(w for _, _, w in words[i : i + n - 1])
            for last in _singular(words[i + n - 1][2]):
                out.append((words[i][0], words[i + n - 1][1], head + last))
    return out


def _char_spans(text: str) -> list[tuple[int, int, str]]:
    out = []
    for m in _CJK_RUN.finditer(text):
        run = m.group()
        for i in range(len(run)):
            for n in range(1, MAX_CHARS + 1):
                if i + n <= len(run):
                    out.append((m.start() + i, m.start() + i + n, run[i : i + n]))
    return out


def _spans(text: str) -> list[tuple[int, int, str]]:
    return _word_spans(text) + _char_spans(text)


@dataclass
class CategoryLexicon:
    """Surface forms (joined lower-case words, or Chinese characters) to category names."""

    keys: dict[str, str] = field(default_factory=dict)
    learned: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_names(cls, names: Iterable[str]) -> CategoryLexicon:
        """A lexicon of the category names only."""
        keys: dict[str, str] = {}
        for name in sorted(set(names)):
            key = _name_key(name)
            if key:
                keys.setdefault(key, name)
        return cls(keys=keys)

    @classmethod
    def fit(
        cls,
        examples: Iterable[tuple[str, Sequence[str]]],
        names: Iterable[str] = (),
        min_support: int = 3,
        min_precision: float = 0.8,
    ) -> CategoryLexicon:
        """Learn forms from ``(text, categories)`` training pairs, on top of the names.

        Args:
            examples: Training expressions and the categories of their objects.
            names: Category names to include even if no training text uses them.
            min_support: A learned form occurs in at least this many expressions of its category.
            min_precision: Share of the expressions containing a form that name its category.
        """
        rows = [(t, sorted(set(c))) for t, c in examples]
        lex = cls.from_names(list(names) + [c for _, cs in rows for c in cs])
        df: Counter[str] = Counter()
        tp: dict[str, Counter[str]] = {}
        for text, cats in rows:
            if not cats:
                continue
            grams = {g for _, _, g in _spans(text)}
            df.update(grams)
            for g in grams:
                tp.setdefault(g, Counter()).update(cats)
        found: dict[str, str] = {}
        for g in sorted(tp):
            if g in lex.keys:
                continue
            cat, hits = max(tp[g].items(), key=lambda kv: (kv[1], kv[0]))
            if hits >= min_support and hits / df[g] >= min_precision:
                found[g] = cat
        # keep the shortest forms: a form containing another form of the same category adds
        # nothing (every text it matches, the shorter one matches too)
        known = {**lex.keys, **found}
        for g, cat in sorted(found.items()):
            if not any(k != g and k in g and c == cat for k, c in known.items()):
                lex.learned[g] = cat
        lex.keys.update(lex.learned)
        return lex

    def matches(self, text: str) -> list[tuple[int, int, str]]:
        """Every ``(start, end, category)`` a key of the lexicon covers in ``text``."""
        return sorted({(s, e, self.keys[g]) for s, e, g in _spans(text) if g in self.keys})

    def find(self, text: str) -> str | None:
        """The category an expression mentions: its head (first in English, last in Chinese)."""
        found = self.matches(text)
        if not found:
            return None
        cjk = _CJK_RUN.search(text) is not None and not _WORD.search(text.lower())
        if cjk:
            return max(found, key=lambda m: (m[1], m[1] - m[0]))[2]
        return min(found, key=lambda m: (m[0], -(m[1] - m[0])))[2]

    def to_json(self) -> dict[str, object]:
        """Plain-data form for reports: the names' keys and the learned forms."""
        names = {k: v for k, v in self.keys.items() if k not in self.learned}
        return {"names": dict(sorted(names.items())), "learned": dict(sorted(self.learned.items()))}
