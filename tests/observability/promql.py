"""Which metric names a PromQL expression reads, found by a small tokenizer.

Checking dashboards and alerts against the metric catalogue needs the names an expression selects,
and nothing else: not functions (`rate(`), keywords (`by`, `offset`), label names inside `{...}`
or grouping lists, strings, numbers or durations. A regular expression over the text cannot tell
those apart; walking the tokens with a little context can. Parsing (is the expression valid?) is
promtool's job; this module only needs to be right about valid expressions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words that are never metric names when they appear bare.
KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "atan2",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "inf",
        "nan",
    }
)
# Keywords followed by a parenthesised list of label names (optional after group_left/right).
GROUPING_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<duration>(?:[0-9]+(?:ms|[smhdwy]))+)(?![0-9A-Za-z_])
  | (?P<number>0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|>=|<=|[-+*/%^=<>@,(){}\[\]:])
    """,
    re.VERBOSE,
)


class PromQLTokenError(ValueError):
    """The text holds a character no PromQL token starts with (often a Grafana variable left)."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str


def tokenize(expr: str) -> list[Token]:
    """Split PromQL into tokens, dropping whitespace and comments."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise PromQLTokenError(f"unexpected {expr[pos]!r} at {pos} in {expr!r}")
        kind = match.lastgroup
        assert kind is not None
        if kind not in ("space", "comment"):
            tokens.append(Token(kind, match.group()))
        pos = match.end()
    return tokens


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _skip_group(tokens: list[Token], start: int, close: str) -> tuple[int, list[Token]]:
    """From tokens[start] (an opening bracket), return the index after its match and the inside."""
    opening = tokens[start].text
    depth = 0
    for index in range(start, len(tokens)):
        if tokens[index].text == opening:
            depth += 1
        elif tokens[index].text == close:
            depth -= 1
            if depth == 0:
                return index + 1, tokens[start + 1 : index]
    raise PromQLTokenError(f"unclosed {opening!r}")


@dataclass(frozen=True)
class Matcher:
    label: str
    operator: str
    value: str


@dataclass(frozen=True)
class Selector:
    """One vector selector: its metric name (from the name or `__name__=`) and its matchers."""

    name: str | None
    matchers: tuple[Matcher, ...]

    def matcher(self, label: str) -> Matcher | None:
        return next((m for m in self.matchers if m.label == label), None)


def _matchers(inside: list[Token]) -> tuple[Matcher, ...]:
    matchers: list[Matcher] = []
    for index in range(len(inside) - 2):
        label, operator, value = inside[index : index + 3]
        if label.kind == "ident" and operator.kind == "op" and value.kind == "string":
            matchers.append(Matcher(label.text, operator.text, _unquote(value.text)))
    return tuple(matchers)


def selectors(expr: str) -> list[Selector]:
    """Every vector selector in an expression, in order."""
    tokens = tokenize(expr)
    found: list[Selector] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if token.text == "{":
            # A selector without a metric name: `{__name__="x", ...}`.
            index, inside = _skip_group(tokens, index, "}")
            matchers = _matchers(inside)
            named = [m.value for m in matchers if m.label == "__name__" and m.operator == "="]
            found.append(Selector(named[0] if named else None, matchers))
            continue
        if token.text == "[":
            index, _ = _skip_group(tokens, index, "]")
            continue
        if token.kind != "ident":
            index += 1
            continue
        word = token.text.lower()
        if word in GROUPING_KEYWORDS:
            index += 1
            if following is not None and following.text == "(":
                index, _ = _skip_group(tokens, index, ")")
            continue
        if word in KEYWORDS or (
            following is not None
            and (following.text == "(" or following.text.lower() in ("by", "without"))
        ):
            # A keyword, a function, or an aggregation with its grouping first.
            index += 1
            continue
        index += 1
        matchers = ()
        if following is not None and following.text == "{":
            index, inside = _skip_group(tokens, index, "}")
            matchers = _matchers(inside)
        found.append(Selector(token.text, matchers))
    return found


def metric_names(expr: str) -> frozenset[str]:
    """The metric names an expression selects."""
    return frozenset(s.name for s in selectors(expr) if s.name is not None)


_LABEL_VALUES = re.compile(r"\s*label_values\(\s*(?P<selector>.+),\s*(?P<label>\w+)\s*\)\s*")


def parse_label_values(query: str) -> tuple[str, str]:
    """Split a Grafana `label_values(selector, label)` variable query into selector and label.

    It is Grafana's syntax, not PromQL: Grafana turns it into a series API call.
    """
    match = _LABEL_VALUES.fullmatch(query)
    if match is None:
        raise ValueError(f"not a label_values(selector, label) query: {query!r}")
    return match.group("selector"), match.group("label")
