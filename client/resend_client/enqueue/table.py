"""``--output table``: the AWS CLI's box layout, for people reading a terminal.

A dict becomes a section: its scalar members as one header row and one value row (or a single
key/value row when there is only one), each nested dict or list a section of its own, indented
by a border. A list of dicts is one row per element. Sections share one width; when that is wider
than the terminal, header-and-value sections turn into key/value rows, as the AWS CLI does.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Section:
    title: str | None
    indent: int
    header: list[str] | None = None
    rows: list[list[str]] = field(default_factory=list)

    @property
    def columns(self) -> int:
        return max([0, len(self.header or []), *(len(row) for row in self.rows)])

    def column_widths(self) -> list[int]:
        widths = [0] * self.columns
        for row in [*self.rows, self.header or []]:
            for i, cell in enumerate(row):
                widths[i] = max(widths[i], len(cell) + 4)
        return widths

    def natural_width(self) -> int:
        widths = self.column_widths()
        content = sum(widths) + max(0, len(widths) - 1)
        inner = max(content, len(self.title or "") + 4)
        return inner + 2 + 2 * self.indent


def render_table(data: Any, title: str, width: int | None = None) -> str:
    if data is None or data == {} or data == []:
        return ""
    sections: list[_Section] = []
    _build(title, data, 0, sections)
    terminal = width or shutil.get_terminal_size((80, 24)).columns
    total = max(s.natural_width() for s in sections)
    if total > terminal:
        sections = [_vertical(s) for s in sections]
        total = max(s.natural_width() for s in sections)
    lines = ["-" * total]
    for section in sections:
        lines.extend(_draw(section, total))
    return "".join(line + "\n" for line in lines)


def _cell(value: Any) -> str:
    return str(value)


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _build(title: str | None, value: Any, indent: int, out: list[_Section]) -> None:
    if value is None or value == {} or value == []:
        return
    section = _Section(title, indent)
    out.append(section)
    if isinstance(value, dict):
        scalars = sorted(k for k, v in value.items() if _is_scalar(v))
        if len(scalars) == 1:
            section.rows.append([scalars[0], _cell(value[scalars[0]])])
        elif scalars:
            section.header = scalars
            section.rows.append([_cell(value[k]) for k in scalars])
        for key in sorted(k for k, v in value.items() if not _is_scalar(v)):
            _build(key, value[key], indent + 1, out)
    elif isinstance(value, list):
        _build_list(section, value, out)
    else:
        section.rows.append([_cell(value)])


def _build_list(section: _Section, items: list[Any], out: list[_Section]) -> None:
    if isinstance(items[0], dict):
        dicts = [item for item in items if isinstance(item, dict)]
        columns = sorted({k for d in dicts for k, v in d.items() if _is_scalar(v)})
        nested = sorted({k for d in dicts for k, v in d.items() if not _is_scalar(v)})
        section.header = columns or None
        for i, element in enumerate(dicts):
            if i and nested:
                # Each element's nested parts follow its own row, so each gets its own section.
                section = _Section(section.title, section.indent, columns or None)
                out.append(section)
            if columns:
                section.rows.append([_cell(element.get(c, "")) for c in columns])
            for key in nested:
                if key in element:
                    _build(key, element[key], section.indent + 1, out)
        return
    for item in items:
        if _is_scalar(item):
            section.rows.append([_cell(item)])
        elif isinstance(item, list) and all(_is_scalar(x) for x in item):
            section.rows.append([_cell(x) for x in item])
        else:
            _build(None, item, section.indent, out)


def _vertical(section: _Section) -> _Section:
    if section.header is None:
        return section
    rows = [
        [name, value]
        for row in section.rows
        for name, value in zip(section.header, row, strict=False)
    ]
    return _Section(section.title, section.indent, None, rows)


def _stretch(widths: list[int], inner: int) -> list[int]:
    extra = inner - (sum(widths) + len(widths) - 1)
    share, rest = divmod(max(0, extra), len(widths))
    return [w + share + (1 if i < rest else 0) for i, w in enumerate(widths)]


def _draw(section: _Section, total: int) -> list[str]:
    left = "|" * section.indent
    inner = total - 2 - 2 * section.indent

    def line(body: str, edge: str = "|") -> str:
        return f"{left}{edge}{body}{edge}{left}"

    lines = []
    if section.title is not None:
        lines.append(line(section.title.center(inner)))
    if section.columns == 0:
        lines.append(line("-" * inner, "+"))
        return lines
    widths = _stretch(section.column_widths(), inner)
    rule = line("+".join("-" * w for w in widths), "+")
    lines.append(rule)
    if section.header is not None:
        headers = zip(section.header, widths, strict=True)
        lines.append(line("|".join(h.center(w) for h, w in headers)))
        lines.append(rule)
    for row in section.rows:
        cells = [row[i] if i < len(row) else "" for i in range(len(widths))]
        lines.append(
            line("|".join(("  " + c).ljust(w) for c, w in zip(cells, widths, strict=True)))
        )
    lines.append(rule)
    return lines
