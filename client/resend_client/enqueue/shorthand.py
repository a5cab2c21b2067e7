r"""The AWS CLI's shorthand syntax for structure and map parameters.

``IpAddress=192.0.2.1,EncodedData=abc`` means ``{"IpAddress": "192.0.2.1", "EncodedData": "abc"}``.
The rules are the AWS CLI's (its user guide, and its behaviour where the guide is silent), so a
value that works with ``aws cognito-idp resend-confirmation-code`` works here unchanged:

- pairs are separated by commas, a key from its value by ``=``; ``key@=file://path`` reads the
  value from a file;
- keys are letters, digits and ``- _ . # / :`` (an empty key too); anything else needs JSON;
- whitespace around separators is ignored (but not before the first key), and so is the
  trailing whitespace of an unquoted value;
- a value in single or double quotes may hold commas, ``=``, brackets and spaces; inside quotes a
  backslash escapes that quote or a backslash, and any other backslash is kept as it is;
- in an unquoted value, ``\,`` is a literal comma and other backslashes are kept; the first value
  after ``=`` may contain ``=`` (base64 padding), later ones may not;
- ``k=a,b`` is the list ``["a", "b"]`` (a ``,`` followed by ``name=`` starts the next pair
  instead), ``k=[a,b]`` is a list too, and ``k={a=b}`` a nested structure.

Errors give the position and what was expected, never the text itself: these parameters can hold
personal data such as IP addresses and email addresses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

Value: TypeAlias = "str | list[Value] | dict[str, Value]"

_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.#/:")


class ShorthandError(ValueError):
    """The text is not shorthand syntax; says where, not what the text was."""

    def __init__(self, expected: str, found: str, position: int) -> None:
        super().__init__(f"expected {expected} at character {position + 1}, found {found}")
        self.position = position


def _can_start(char: str) -> bool:
    return ord(char) > 0x20 and not char.isspace() and char not in "\"',=[{"


def _first_follows(char: str) -> bool:
    """Characters of the value right after ``=``, or of an item in brackets or braces."""
    return char.isspace() or (ord(char) > 0x20 and char not in "\"',]}")


def _later_follows(char: str) -> bool:
    """Characters of the second and later items of ``k=a,b``: no ``=``, so a pair can follow."""
    return char.isspace() or (ord(char) > 0x20 and char not in "\"',=")


def parse_shorthand(text: str, read_file: Callable[[str], str] | None = None) -> dict[str, Value]:
    """Parse ``text``; ``read_file`` resolves the values of ``key@=file://...`` pairs."""
    return _Parser(text, read_file).parse()


class _Parser:
    def __init__(self, text: str, read_file: Callable[[str], str] | None) -> None:
        self._text = text
        self._pos = 0
        self._read_file = read_file

    def parse(self) -> dict[str, Value]:
        # No space is skipped before the first key, as in the AWS CLI: " a=b" is refused.
        pairs: dict[str, Value] = {}
        while True:
            key, value = self._pair(nested=False)
            self._store(pairs, key, value)
            self._skip_space()
            if self._at_end():
                return pairs
            self._expect(",")
            self._skip_space()

    # The grammar, one method a rule.

    def _pair(self, *, nested: bool) -> tuple[str, Value]:
        key_at = self._pos
        key = self._key()  # may be empty, as in the AWS CLI: "=1" is {"": "1"}
        self._skip_space()
        from_file = self._peek() == "@"
        if from_file:
            self._pos += 1
            self._skip_space()
        if self._peek() != "=" and not key:
            raise ShorthandError("a key (letters, digits, - _ . # / :)", self._found(), key_at)
        self._expect("=")
        self._skip_space()
        value = self._item() if nested else self._value()
        return key, self._resolve_files(value) if from_file else value

    def _key(self) -> str:
        start = self._pos
        while not self._at_end() and self._text[self._pos] in _KEY_CHARS:
            self._pos += 1
        return self._text[start : self._pos]

    def _value(self) -> Value:
        """What follows ``key=`` at the top level: a list, a structure, or ``a`` / ``a,b,...``."""
        if self._at_end():
            return ""
        if self._peek() == "[":
            return self._list()
        if self._peek() == "{":
            return self._structure()
        return self._comma_list()

    def _comma_list(self) -> Value:
        items: list[Value] = [self._first_item()]
        self._skip_space()
        while self._peek() == ",":
            comma = self._pos
            self._pos += 1
            self._skip_space()
            if self._at_end():
                raise ShorthandError("a value after ','", "end of input", self._pos)
            item = self._later_item()
            self._skip_space()
            if item is None and self._peek() == ",":
                # "a=1,,b=2": the AWS CLI backs up to the second comma, dropping the empty item.
                break
            if item is None or not (self._at_end() or self._peek() == ","):
                # Not a list item but the key of the next pair: give the comma back.
                self._pos = comma
                break
            items.append(item)
        return items[0] if len(items) == 1 else items

    def _list(self) -> list[Value]:
        self._expect("[")
        self._skip_space()
        items: list[Value] = []
        while self._peek() != "]":
            if self._at_end():
                raise ShorthandError("']'", "end of input", self._pos)
            items.append(self._item())
            self._skip_space()
            if self._at_end():
                raise ShorthandError("']'", "end of input", self._pos)
            if self._peek() != "]":
                self._expect(",")
                self._skip_space()
        self._pos += 1
        return items

    def _structure(self) -> dict[str, Value]:
        self._expect("{")
        self._skip_space()
        members: dict[str, Value] = {}
        while self._peek() != "}":
            if self._at_end():
                raise ShorthandError("'}'", "end of input", self._pos)
            key, value = self._pair(nested=True)
            self._store(members, key, value)
            self._skip_space()
            if self._at_end():
                raise ShorthandError("'}'", "end of input", self._pos)
            if self._peek() != "}":
                self._expect(",")
                self._skip_space()
        self._pos += 1
        return members

    def _item(self) -> Value:
        """An item inside brackets or braces."""
        if self._peek() == "[":
            return self._list()
        if self._peek() == "{":
            return self._structure()
        return self._first_item()

    def _first_item(self) -> str:
        if self._peek() in ("'", '"'):
            return self._quoted()
        return self._bare(_first_follows)

    def _later_item(self) -> str | None:
        if self._peek() in ("'", '"'):
            return self._quoted()
        start = self._pos
        item = self._bare(_later_follows)
        return item if self._pos > start else None

    def _bare(self, follows: Callable[[str], bool]) -> str:
        chars: list[str] = []
        text = self._text
        while not self._at_end():
            char = text[self._pos]
            if char == "\\" and text.startswith(",", self._pos + 1):
                chars.append(",")
                self._pos += 2
                continue
            if not (follows(char) if chars else _can_start(char)):
                break
            chars.append(char)
            self._pos += 1
        return "".join(chars).rstrip()

    def _quoted(self) -> str:
        quote = self._text[self._pos]
        opened = self._pos
        self._pos += 1
        chars: list[str] = []
        text = self._text
        # Where the last escaped quote was: if the string never closes, that quote closes it and
        # its backslash is literal, as the AWS CLI reads "C:\\dir\\" (a trailing backslash).
        last_escaped: tuple[int, int] | None = None
        while True:
            if self._at_end():
                if last_escaped is None:
                    raise ShorthandError(f"a closing {quote}", "end of input", opened)
                backslash, length = last_escaped
                self._pos = backslash + 2
                return "".join(chars[:length]) + "\\"
            char = text[self._pos]
            if char == "\\" and self._pos + 1 < len(text) and text[self._pos + 1] in (quote, "\\"):
                if text[self._pos + 1] == quote:
                    last_escaped = (self._pos, len(chars))
                chars.append(text[self._pos + 1])
                self._pos += 2
            elif char == quote:
                self._pos += 1
                return "".join(chars)
            else:
                chars.append(char)
                self._pos += 1

    # Helpers.

    def _resolve_files(self, value: Value) -> Value:
        """``@=``: each string of the value that is a file:// reference becomes the file's text."""
        if self._read_file is None:
            return value
        if isinstance(value, str):
            return self._read_file(value)
        if isinstance(value, list):
            return [self._resolve_files(item) for item in value]
        return value  # a structure's own pairs say whether they read files

    def _store(self, into: dict[str, Value], key: str, value: Value) -> None:
        if key in into:
            raise ShorthandError(
                f"each key once (key {key!r} appears twice; a ',' where a space was meant?)",
                "a second one",
                self._pos,
            )
        into[key] = value

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise ShorthandError(repr(char), self._found(), self._pos)
        self._pos += 1

    def _found(self) -> str:
        if self._at_end():
            return "end of input"
        char = self._text[self._pos]
        # Only syntax characters are named; a letter or digit could be part of personal data.
        return repr(char) if char in "=,[]{}'\"@\\" else "another character"

    def _peek(self) -> str:
        return self._text[self._pos] if self._pos < len(self._text) else ""

    def _at_end(self) -> bool:
        return self._pos >= len(self._text)

    def _skip_space(self) -> None:
        while not self._at_end() and self._text[self._pos].isspace():
            self._pos += 1
