"""The report model of ``livescan diag``: findings with a status, a plain-language summary and advice.

    finding = Finding("sensor", "module", FAIL, "no bytes at all at any baud rate", advice="check ...")
    report = Report([finding, ...])
    report.exit_code        # 1 when anything failed
    report.as_dict()        # for --json and the support bundle
    report.text()           # for a technician's terminal

A check is a function returning a list of findings; it never raises for what it finds (a missing
port, a refused TLS handshake): those are findings. Nothing personal goes into a finding.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
STATUSES = (OK, WARN, FAIL, SKIP)
_MARK = {OK: "ok  ", WARN: "WARN", FAIL: "FAIL", SKIP: "skip"}


@dataclass(frozen=True)
class Finding:
    """One thing a check found: ``check`` (sensor, network ...), a short ``name``, its status,
    a one-line ``summary``, ``advice`` (what to do; empty when nothing) and ``data`` (plain values)."""

    check: str
    name: str
    status: str
    summary: str
    advice: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {self.status!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    """Findings in the order the checks ran."""

    findings: list[Finding] = field(default_factory=list)

    def extend(self, findings: Iterable[Finding]) -> Report:
        self.findings.extend(findings)
        return self

    @property
    def failed(self) -> bool:
        return any(finding.status == FAIL for finding in self.findings)

    @property
    def exit_code(self) -> int:
        """0 when nothing failed (warnings allowed), 1 otherwise."""
        return 1 if self.failed else 0

    def counts(self) -> dict[str, int]:
        return {status: sum(f.status == status for f in self.findings) for status in STATUSES}

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": not self.failed,
            "counts": self.counts(),
            "findings": [finding.as_dict() for finding in self.findings],
        }

    def text(self, *, details: bool = True) -> str:
        """One line per finding (``[FAIL] sensor/module: ...``), its advice indented under it."""
        lines = []
        for finding in self.findings:
            lines.append(f"[{_MARK[finding.status]}] {finding.check}/{finding.name}: {finding.summary}")
            if finding.advice:
                lines.append(f"       -> {finding.advice}")
            if details:
                for key, value in finding.data.items():
                    if isinstance(value, dict | list):
                        continue
                    lines.append(f"       {key.replace('_', ' ')}: {value}")
        counts = self.counts()
        lines.append(
            f"{counts[OK]} ok, {counts[WARN]} warning(s), {counts[FAIL]} failure(s), {counts[SKIP]} skipped"
        )
        return "\n".join(lines)
