"""``--output`` and ``--query``: the command's own answer, printed the way the AWS CLI prints.

``--query`` (JMESPath) filters first; then ``json`` (indented, like the AWS CLI), ``yaml``,
``yaml-stream`` (the AWS CLI's: the answer as the one item of a list), ``text`` (tab-separated
values: a dict's scalar values on one line in sorted key order, as the AWS CLI sorts them, each
nested dict or list on its own lines tagged with its key in capitals) or ``table`` (boxes, see
``resend_client.enqueue.table``). Scripts can rely on json, yaml and text; table is for people.

A query can fail on data as well as on syntax (an unknown function, a type error): it is tried
on samples of the answer's shape before anything is sent (``check_query``), so a bad query
costs nothing; a failure that only real data can cause raises ``QueryFailed``, never a traceback.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

FORMATS = ("json", "yaml", "yaml-stream", "text", "table")


class QueryFailed(Exception):
    """The query could not be applied to the answer; the message is the first line of why."""


def compile_query(expression: str) -> Any:
    """An argparse ``type``: a bad expression is a usage error, reported before any work."""
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        reason = str(exc).splitlines()[0]
        raise argparse.ArgumentTypeError(f"invalid JMESPath expression: {reason}") from None


def check_query(query: Any, samples: list[Any]) -> str | None:
    """Why the query fails on one of the samples, or None: run before anything is sent."""
    for sample in samples:
        try:
            _search(query, sample)
        except QueryFailed as exc:
            return str(exc)
    return None


def _search(query: Any, data: Any) -> Any:
    from jmespath.exceptions import JMESPathError

    try:
        return query.search(data)
    except JMESPathError as exc:
        raise QueryFailed(str(exc).splitlines()[0]) from None


def render(data: Any, output: str, *, query: Any = None, title: str) -> str:
    if query is not None:
        data = _search(query, data)
    if output == "yaml":
        return _yaml(data)
    if output == "yaml-stream":
        return _yaml([data])
    if output == "text":
        return render_text(data)
    if output == "table":
        from resend_client.enqueue.table import render_table

        return render_table(data, title)
    return json.dumps(data, indent=4, ensure_ascii=False) + "\n"


def _yaml(data: Any) -> str:
    if data is None or isinstance(data, str | int | float | bool):
        # As the AWS CLI: a lone scalar is written as JSON, not as a YAML document.
        return json.dumps(data, ensure_ascii=False) + "\n"
    import yaml

    return str(yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True))


def render_text(data: Any) -> str:
    lines: list[str] = []
    _text(data, None, None, lines)
    return "".join(line + "\n" for line in lines)


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _text(item: Any, tag: str | None, columns: list[str] | None, lines: list[str]) -> None:
    if isinstance(item, dict):
        _text_dict(item, tag, columns, lines)
    elif isinstance(item, list):
        _text_list(item, tag, lines)
    else:
        lines.append(str(item))


def _text_dict(
    item: dict[str, Any], tag: str | None, columns: list[str] | None, lines: list[str]
) -> None:
    if columns is None:
        columns = sorted(k for k, v in item.items() if _is_scalar(v))
    values = [str(item.get(key, "")) for key in columns]
    if values:
        lines.append("\t".join(([tag.upper()] if tag else []) + values))
    for key in sorted(set(item) - set(columns)):
        _text(item[key], key, None, lines)


def _text_list(items: list[Any], tag: str | None, lines: list[str]) -> None:
    if not items:
        return
    if any(isinstance(element, dict) for element in items):
        # Rows of one table: every row gets every scalar column, in the same order.
        columns = sorted(
            {k for e in items if isinstance(e, dict) for k, v in e.items() if _is_scalar(v)}
        )
        for element in items:
            _text(element, tag, columns, lines)
        return
    scalars = [e for e in items if _is_scalar(e)]
    if scalars:
        if tag:
            lines.extend(f"{tag.upper()}\t{e}" for e in scalars)
        else:
            lines.append("\t".join(str(e) for e in scalars))
    for element in items:
        if not _is_scalar(element):
            _text(element, tag, None, lines)
