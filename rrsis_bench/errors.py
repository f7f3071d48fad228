"""Typed, actionable exceptions.

Every error a user can cause names the file, the sample or the argument involved and says
what to do about it. The CLI prints ``str(error)`` on one line and exits non-zero; nothing in
the library calls ``sys.exit`` or prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class RRSISBenchError(Exception):
    """Base class of every error raised on purpose by rrsis-bench."""


class DatasetNotFoundError(RRSISBenchError, FileNotFoundError):
    """A raw release, a built dataset or a file inside one is missing."""


class FormatError(RRSISBenchError, ValueError):
    """An input file exists but does not have the expected format.

    Args:
        message: What is wrong and what to do.
        path: The offending file, if there is one.
        line: 1-based line number inside ``path``, if known.
    """

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(where + message)


class IntegrityError(FormatError):
    """A file of a built dataset no longer matches the sha256 its manifest records."""


class UnsafePickleError(FormatError):
    """A pickle references a global that the restricted unpickler does not admit."""


class UnsafeArchiveError(FormatError):
    """An archive holds a member that would escape the extraction folder or is too large."""


class AssumptionError(FormatError):
    """A fact the builder relies on does not hold for this raw release.

    Args:
        assumption: One sentence stating the assumption.
        path: The file where it was checked.
        found: What was found instead.
        examples: The first offending records (already formatted).
    """

    def __init__(
        self,
        assumption: str,
        path: str | Path | None,
        found: str,
        examples: Sequence[str] = (),
    ):
        self.assumption = assumption
        self.found = found
        self.examples = list(examples)
        msg = f"assumption violated: {assumption}; found {found}"
        if self.examples:
            msg += "; first offending records: " + "; ".join(self.examples[:3])
        msg += ". If this release has a different layout, report it with `rrsis-bench inspect`."
        super().__init__(msg, path)


class BuildError(RRSISBenchError):
    """A build could not complete (output not writable, strict validation failed, ...)."""


class OutputExistsError(BuildError, FileExistsError):
    """The output folder already holds a build and ``overwrite`` was not given."""


class FormatVersionError(RRSISBenchError, ValueError):
    """A built dataset was written with an incompatible format major version."""


class ValidationFailedError(BuildError):
    """``strict`` was requested and validation produced errors or warnings."""


class UnknownNameError(RRSISBenchError, ValueError):
    """A dataset, protocol, layout, format or split name is not known.

    Args:
        kind: What kind of name (``"dataset"``, ``"protocol"``, ...).
        name: The name given.
        choices: The accepted names.
    """

    def __init__(self, kind: str, name: str, choices: Sequence[str]):
        self.kind = kind
        self.name = name
        self.choices = list(choices)
        super().__init__(
            f"Expected {kind} to be one of {', '.join(self.choices)}, but got {name!r}"
        )


class OptionError(RRSISBenchError, ValueError):
    """A builder option (``-o KEY=VALUE``) has a value that cannot be used."""


class PredictionError(RRSISBenchError, ValueError):
    """Predictions cannot be aligned with the ground truth.

    Args:
        problems: One ``(sample_id, message)`` pair per problem; all of them are kept.
        summary: A one-line lead-in.
    """

    def __init__(self, summary: str, problems: Sequence[tuple[str, str]] = ()):
        self.summary = summary
        self.problems = list(problems)
        msg = summary
        if self.problems:
            shown = "; ".join(f"{sid}: {why}" for sid, why in self.problems[:5])
            more = len(self.problems) - 5
            msg += f" ({len(self.problems)} problems: {shown}"
            msg += f"; and {more} more)" if more > 0 else ")"
        super().__init__(msg)
