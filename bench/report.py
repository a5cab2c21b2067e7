"""The benchmark's output: one table for people, one JSON file for comparing commits.

Each row is one figure: its median and spread over the runs, and the target beside it. A target
is judged on the median; the spread says how far to trust that verdict.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.stats import Summary

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    "<": operator.lt,
    ">": operator.gt,
    "==": lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9),
}


@dataclass(frozen=True)
class Target:
    op: str
    value: float

    def met(self, measured: float) -> bool | None:
        if not math.isfinite(measured):
            return None
        return _OPS[self.op](measured, self.value)

    def __str__(self) -> str:
        return f"{self.op} {_fmt(self.value)}"


@dataclass(frozen=True)
class Row:
    item: str
    key: str
    label: str
    unit: str
    summary: Summary
    target: Target | None = None
    note: str = ""

    @property
    def status(self) -> str:
        if self.target is None:
            return "-"
        met = self.target.met(self.summary.median)
        return {True: "ok", False: "MISS", None: "n/a"}[met]

    def to_json(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "key": self.key,
            "label": self.label,
            "unit": self.unit,
            **self.summary.to_json(),
            "target": None if self.target is None else str(self.target),
            "status": self.status,
            "note": self.note,
        }


@dataclass
class ItemResult:
    """One benchmark item: its rows, and anything else worth keeping in the JSON."""

    name: str
    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None

    def add(
        self,
        key: str,
        label: str,
        unit: str,
        values: list[float],
        target: Target | None = None,
        note: str = "",
    ) -> None:
        self.rows.append(Row(self.name, key, label, unit, Summary.of(values), target, note))

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": [row.to_json() for row in self.rows],
            "details": self.details,
            "seconds": round(self.seconds, 1),
            "error": self.error,
        }


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def render_table(items: list[ItemResult]) -> str:
    header = ("item", "figure", "unit", "median", "spread (min-max)", "n", "target", "status")
    lines: list[tuple[str, ...]] = [header]
    for item in items:
        if item.error:
            lines.append((item.name, f"FAILED: {item.error[:60]}", "", "", "", "", "", "ERROR"))
        for row in item.rows:
            s = row.summary
            spread = f"{_fmt(s.minimum)} - {_fmt(s.maximum)}" if s.n > 1 else ""
            lines.append(
                (
                    row.item,
                    row.label,
                    row.unit,
                    _fmt(s.median),
                    spread,
                    str(s.n),
                    str(row.target) if row.target else "",
                    row.status,
                )
            )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for index, line in enumerate(lines):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip())
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    notes = [
        f"  {row.item} / {row.label}: {row.note}" for item in items for row in item.rows if row.note
    ]
    if notes:
        out += ["", "notes:", *notes]
    return "\n".join(out)


def render_markdown(items: list[ItemResult]) -> str:
    out = [
        "| item | figure | unit | median | spread (min-max) | n | target | status |",
        "|---|---|---|---:|---|---:|---|---|",
    ]
    for item in items:
        for row in item.rows:
            s = row.summary
            spread = f"{_fmt(s.minimum)} - {_fmt(s.maximum)}" if s.n > 1 else ""
            target = str(row.target) if row.target else ""
            out.append(
                f"| {row.item} | {row.label} | {row.unit} | {_fmt(s.median)} | {spread} | "
                f"{s.n} | {target} | {row.status} |"
            )
    return "\n".join(out)


def write_json(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
