"""`Finding`: one verdict of a diagnostic, with its evidence in numbers and a fix.

The monitors' reports and the doctor speak the same language: a list of
findings, each naming the check, how serious it is, the numbers that led
to it, the layers involved and what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("ok", "info", "warning", "error")
_MARKS = {"ok": "✓", "info": "·", "warning": "✗", "error": "✗"}


@dataclass
class Finding:
    """One diagnostic verdict.

    Attributes:
        check: the check's name, e.g. "vanishing_gradients", "input_scale".
        severity: "ok" (passed), "info" (skipped or informational),
            "warning" (likely to hurt training) or "error" (training cannot work).
        message: one line saying what was measured and what it means.
        evidence: the numbers behind the verdict, by name.
        fix: the usual remedy ("" when the check passed).
        layers: module paths involved (first the worst), if any.

    Example:
        >>> finding = Finding("input_scale", "warning", "inputs have std 73.2",
        ...                   {"std": 73.2}, fix="standardise the inputs")
        >>> finding.passed
        False
        >>> print(finding)
        ✗ input_scale [warning]: inputs have std 73.2
            fix: standardise the inputs
    """

    check: str
    severity: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: str = ""
    layers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(
                f"Finding({self.check!r}): severity must be one of {SEVERITIES}, "
                f"got {self.severity!r}"
            )

    @property
    def passed(self) -> bool:
        """True for "ok" and "info": nothing to fix."""
        return self.severity in ("ok", "info")

    def __str__(self) -> str:
        tag = "" if self.passed else f" [{self.severity}]"
        line = f"{_MARKS[self.severity]} {self.check}{tag}: {self.message}"
        if self.fix and not self.passed:
            line += f"\n    fix: {self.fix}"
        return line


class FindingsReport:
    """What every diagnostic report shares: its `findings` and the questions asked of them.

    A report (the doctor's, a monitor's) is a dataclass with a `findings` list
    that inherits this, and adds its own numbers and `__str__`.
    """

    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """True when no finding is a warning or an error."""
        return all(finding.passed for finding in self.findings)

    @property
    def problems(self) -> list[Finding]:
        """The findings that need a fix."""
        return [finding for finding in self.findings if not finding.passed]

    def finding(self, check: str) -> Finding | None:
        """The finding of one check by name, or None if that check did not run."""
        return next((f for f in self.findings if f.check == check), None)

    def flagged(self, check: str) -> list[str]:
        """The layers named by a flag ("vanishing_gradients", ...), [] when not raised."""
        return [layer for f in self.findings if f.check == check for layer in f.layers]


def format_number(value: float) -> str:
    """A short, scale-free rendering of a norm or ratio: 3 significant digits."""
    if value is None:
        return "-"
    return f"{value:.3g}"
