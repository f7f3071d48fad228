"""Validation findings and the report written to ``validation.json``.

Builders add findings while they read a raw release; each finding has a rule id from
:mod:`rrsis_bench.rules`, a severity and the split, image, sample or file it concerns.
``rrsis-bench validate <dataset> --raw DIR`` runs a builder's reading stage without writing.

Example:
    >>> report = Report("demo")
    >>> _ = report.add("mask-empty", "mask of sample 7 is empty", sample_id="7")
    >>> report.counts_by_severity()
    {'error': 0, 'warning': 1, 'info': 0}
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rrsis_bench.rules import RULES, SEVERITIES, Severity, check_rule
from rrsis_bench.schema import natural_key

VALIDATION_SCHEMA = "rrsis-bench/validation/1"
_SEV_ORDER = {s: i for i, s in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class Finding:
    """One validation finding."""

    rule: str
    severity: Severity
    message: str
    split: str | None = None
    image_id: str | None = None
    sample_id: str | None = None
    file: str | None = None

    def sort_key(self) -> tuple[Any, ...]:
        """Deterministic order: severity, rule, split, image, sample, file, message."""
        return (
            _SEV_ORDER[self.severity],
            self.rule,
            self.split or "",
            natural_key(self.image_id or ""),
            natural_key(self.sample_id or ""),
            self.file or "",
            self.message,
        )


class Report:
    """Collects findings for one dataset and compares counts with the published ones."""

    def __init__(self, dataset: str):
        self.dataset = dataset
        self.findings: list[Finding] = []
        self.counts: dict[str, Any] = {}
        self.published: dict[str, Any] = {}

    def add(
        self,
        rule: str,
        message: str,
        *,
        severity: Severity | None = None,
        split: str | None = None,
        image_id: str | None = None,
        sample_id: str | None = None,
        file: str | None = None,
    ) -> Finding:
        """Record a finding; ``severity`` defaults to the rule's own."""
        r = check_rule(rule)
        finding = Finding(rule, severity or r.severity, message, split, image_id, sample_id, file)
        self.findings.append(finding)
        return finding

    def extend(self, findings: Iterable[Finding]) -> None:
        """Add findings produced elsewhere (e.g. in a worker process)."""
        for f in findings:
            check_rule(f.rule)
            self.findings.append(f)

    def sorted_findings(self) -> list[Finding]:
        """All findings, deduplicated, in deterministic order."""
        return sorted(set(self.findings), key=Finding.sort_key)

    def counts_by_severity(self) -> dict[str, int]:
        """Number of findings per severity."""
        c = Counter(f.severity for f in set(self.findings))
        return {s: c.get(s, 0) for s in SEVERITIES}

    def counts_by_rule(self) -> dict[str, dict[str, Any]]:
        """Per rule id: its severity, the number of findings and one example message."""
        out: dict[str, dict[str, Any]] = {}
        for f in self.sorted_findings():
            entry = out.setdefault(
                f.rule, {"severity": f.severity, "count": 0, "example": f.message}
            )
            entry["count"] += 1
        return dict(sorted(out.items(), key=lambda kv: (_SEV_ORDER[kv[1]["severity"]], kv[0])))

    def has_errors(self) -> bool:
        """True if any finding has severity ``error``."""
        return any(f.severity == "error" for f in self.findings)

    def has_warnings(self) -> bool:
        """True if any finding has severity ``warning``."""
        return any(f.severity == "warning" for f in self.findings)

    def compare_counts(
        self, found: Mapping[str, int], published: Mapping[str, int], unit: str
    ) -> None:
        """Record found vs published counts; each difference is an ``info`` finding, not a failure."""
        self.counts[unit] = dict(found)
        self.published[unit] = dict(published)
        for key, expected in published.items():
            got = int(found.get(key, 0))
            if got != expected:
                diff = got - expected
                self.add(
                    "count-differs",
                    f"{unit} in {key}: found {got:,}, published {expected:,} ({diff:+,})",
                    split=key if key in ("train", "val", "test") else None,
                )

    def to_dict(self) -> dict[str, Any]:
        """The content of ``validation.json`` (deterministic)."""
        return {
            "schema": VALIDATION_SCHEMA,
            "dataset": self.dataset,
            "summary": self.counts_by_severity(),
            "rules": self.counts_by_rule(),
            "counts": {"found": self.counts, "published": self.published},
            "findings": [
                {k: v for k, v in asdict(f).items() if v is not None}
                for f in self.sorted_findings()
            ],
        }

    def write(self, path: Path) -> None:
        """Write ``validation.json``."""
        Path(path).write_text(dumps(self.to_dict()), encoding="utf-8")

    def summary_lines(self, examples: int = 2) -> list[str]:
        """A human summary: one line per rule with its count and the first examples."""
        sev = self.counts_by_severity()
        lines = [
            f"validation: {sev['error']} errors, {sev['warning']} warnings, {sev['info']} info"
        ]
        by_rule: dict[str, list[Finding]] = {}
        for f in self.sorted_findings():
            by_rule.setdefault(f.rule, []).append(f)
        for rule, items in sorted(
            by_rule.items(), key=lambda kv: (_SEV_ORDER[kv[1][0].severity], kv[0])
        ):
            head = f"  {items[0].severity:<7} {rule} ×{len(items)}: {RULES[rule].description}"
            lines.append(head)
            for f in items[:examples]:
                lines.append(f"      {f.message}")
        return lines


def dumps(obj: Any) -> str:
    """Deterministic JSON text used for every file a build writes."""
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
