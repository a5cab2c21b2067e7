"""The shorthand parser on the AWS CLI's rules, including its quoting and escaping edge cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from resend_client.enqueue.shorthand import ShorthandError, parse_shorthand


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Pairs, the documented basic form.
        ("IpAddress=192.0.2.1,EncodedData=abc", {"IpAddress": "192.0.2.1", "EncodedData": "abc"}),
        ("KeyName1=string,KeyName2=string", {"KeyName1": "string", "KeyName2": "string"}),
        ("a=b", {"a": "b"}),
        # Keys may hold - _ . # / :
        ("a-b_c.d#e/f:g=1", {"a-b_c.d#e/f:g": "1"}),
        # Whitespace around separators is ignored, trailing whitespace of a bare value dropped.
        ("a = b , c = d", {"a": "b", "c": "d"}),
        ("a=b   ", {"a": "b"}),
        ("a=b c", {"a": "b c"}),
        # The first value may contain '=' (base64 padding), later pairs still split.
        (
            "EncodedData=YWJj==,IpAddress=192.0.2.1",
            {"EncodedData": "YWJj==", "IpAddress": "192.0.2.1"},
        ),
        ("a=b=c", {"a": "b=c"}),
        # Empty values.
        ("a=", {"a": ""}),
        ("a=,b=c", {"a": "", "b": "c"}),
        # A comma not followed by name= makes a list.
        ("a=b,c", {"a": ["b", "c"]}),
        ("a=b,c,d=e", {"a": ["b", "c"], "d": "e"}),
        ("a=[b,c]", {"a": ["b", "c"]}),
        ("a=[]", {"a": []}),
        ("a=[b,]", {"a": ["b"]}),
        # Nested structures.
        ("a={b=c,d=e}", {"a": {"b": "c", "d": "e"}}),
        ("a={b=[c,d]},e=f", {"a": {"b": ["c", "d"]}, "e": "f"}),
        ("a={}", {"a": {}}),
        # Escaped commas in bare values.
        (r"a=b\,c", {"a": "b,c"}),
        (r"a=b\,c,d=e", {"a": "b,c", "d": "e"}),
        (r"a=\,b", {"a": ",b"}),
        # Other backslashes in bare values are literal.
        (r"a=C:\dir\file", {"a": r"C:\dir\file"}),
        # Quoted values hold commas, '=', brackets and spaces.
        ("a='b,c=d'", {"a": "b,c=d"}),
        ('a="b,c=d",e=f', {"a": "b,c=d", "e": "f"}),
        ("a=' spaced '", {"a": " spaced "}),
        ("a='[{}]'", {"a": "[{}]"}),
        ('a="it\'s"', {"a": "it's"}),
        ("a='say \"hi\"'", {"a": 'say "hi"'}),
        # Inside quotes a backslash escapes that quote or a backslash; others are kept.
        (r"a='it\'s'", {"a": "it's"}),
        (r'a="say \"hi\""', {"a": 'say "hi"'}),
        (r"a='back\\slash'", {"a": r"back\slash"}),
        (r"a='keep\n'", {"a": r"keep\n"}),
        (r'a="\'"', {"a": r"\'"}),
        # A quoted value that never closes ends at its last escaped quote (a trailing backslash).
        (r'a="C:\dir\"', {"a": "C:\\dir\\"}),
        # Quoted items of a list.
        ("a='x,y','z'", {"a": ["x,y", "z"]}),
        ('a=["x,y", "z"]', {"a": ["x,y", "z"]}),
        # As the AWS CLI: an empty key, and an empty item between two commas dropped.
        ("=b", {"": "b"}),
        ("a=1,,b=2", {"a": "1", "b": "2"}),
        # Unicode passes through.
        ("name=José,city=Zürich", {"name": "José", "city": "Zürich"}),
        ("emoji=\U0001f600", {"emoji": "\U0001f600"}),
    ],
)
def test_parses(text: str, expected: dict[str, Any]) -> None:
    assert parse_shorthand(text) == expected


@pytest.mark.parametrize(
    ("text", "position", "expected_part"),
    [
        ("", 1, "a key"),
        ("foo", 4, "'='"),
        (" a=b", 1, "a key"),  # the AWS CLI skips no space before the first key
        ("a=b,", 5, "a value after ','"),
        ("a=b,a=c", 8, "each key once"),
        ("a='unclosed", 3, "a closing '"),
        ('a="unclosed', 3, 'a closing "'),
        ("a=[b,c", 7, "']'"),
        ("a={b=c", 7, "'}'"),
        ("a=b}", 4, "','"),
        ("a=b'c'", 4, "','"),
        # A space where a key is expected: key characters only.
        ("a=b, c d=e", 8, "'='"),
    ],
)
def test_rejects_with_position(text: str, position: int, expected_part: str) -> None:
    with pytest.raises(ShorthandError) as caught:
        parse_shorthand(text)
    assert expected_part in str(caught.value)
    assert f"at character {position}," in str(caught.value)


def test_errors_never_echo_the_value() -> None:
    with pytest.raises(ShorthandError) as caught:
        parse_shorthand("IpAddress=jane@example.com}")
    message = str(caught.value)
    assert "jane" not in message
    assert "example" not in message


def test_where_the_aws_cli_silently_drops_text_this_parser_reports_it() -> None:
    # The AWS CLI backtracks to the escaped comma and loses "c\"; nothing is lost here.
    with pytest.raises(ShorthandError):
        parse_shorthand(r"a=b,c\,x=d")


def test_at_equals_reads_files(tmp_path: Path) -> None:
    data = tmp_path / "data.txt"
    data.write_text("from, the=file", encoding="utf-8")
    read: list[str] = []

    def read_file(value: str) -> str:
        read.append(value)
        return data.read_text(encoding="utf-8") if value.startswith("file://") else value

    parsed = parse_shorthand(f"EncodedData@=file://{data},IpAddress=192.0.2.1", read_file)
    assert parsed == {"EncodedData": "from, the=file", "IpAddress": "192.0.2.1"}
    assert read == [f"file://{data}"]  # only the @= pair is resolved


def test_plain_equals_never_reads_files() -> None:
    def read_file(value: str) -> str:
        raise AssertionError("read_file called")

    assert parse_shorthand("a=file://x", read_file) == {"a": "file://x"}
