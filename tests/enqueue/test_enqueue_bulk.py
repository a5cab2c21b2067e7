"""``enqueue --from-file``: bad lines reported by number, the rest delivered exactly once."""

from __future__ import annotations

import io
import json
import re
import sys
import tracemalloc
import uuid
from collections import Counter
from pathlib import Path

import pytest
from resend_client.enqueue.bulk import numbered_lines, open_source, scan, valid_requests
from resend_client.enqueue.progress import ProgressBar
from resend_contract.models import MAX_BODY_BYTES

from .helpers import Queues, run_cli

CLIENT_ID = "1example23456789"


def good(i: int, *, with_id: bool) -> str:
    line = {"ClientId": CLIENT_ID, "Username": f"user-{i:05d}@example.com"}
    if with_id:
        line["RequestId"] = f"req-{i}"
    return json.dumps(line)


BAD_LINES = {
    '{"ClientId": "abc", "Username": ': "not valid JSON",
    "[1, 2]": "must be a JSON object",
    json.dumps({"ClientId": CLIENT_ID, "Username": "u", "Extra": 1}): "unknown member (1 member",
    json.dumps({"ClientId": "bad id", "Username": "u"}): "ClientId: must contain only",
    json.dumps({"ClientId": CLIENT_ID}): "Username: required member missing",
    json.dumps({"ClientId": CLIENT_ID, "Username": "u", "SecretHash": None}): "rather than null",
    json.dumps({"ClientId": CLIENT_ID, "Username": "u", "RequestId": "a b"}): "RequestId:",
}


def write_mixed(path: Path, count: int) -> tuple[dict[int, str], list[str]]:
    """``count`` good lines with bad and blank ones among them; the bad lines' expected reasons."""
    bad: dict[int, str] = {}
    usernames: list[str] = []
    bad_lines = list(BAD_LINES.items())
    with path.open("wb") as stream:
        number = 0
        for i in range(count):
            if i % 13 == 7:
                text, reason = bad_lines[(i // 13) % len(bad_lines)]
                number += 1
                stream.write(text.encode() + b"\n")
                bad[number] = reason
            if i % 17 == 11:
                number += 1
                stream.write(b"   \n")  # blank: skipped, not counted
            if i == 50:
                number += 1
                stream.write(b'{"ClientId": "\xff\xfe"}\n')
                bad[number] = "not UTF-8 text"
            if i == 75:
                number += 1
                stream.write(b'{"Username": "' + b"x" * (MAX_BODY_BYTES + 10) + b'"}\n')
                bad[number] = f"larger than {MAX_BODY_BYTES} bytes"
            number += 1
            stream.write(good(i, with_id=i % 2 == 0).encode() + b"\n")
            usernames.append(f"user-{i:05d}@example.com")
    return bad, usernames


def reported_lines(err: str, name: str) -> dict[int, str]:
    found = {}
    for line in err.splitlines():
        match = re.match(rf"^{re.escape(name)}:(\d+): (.*)$", line)
        if match:
            found[int(match.group(1))] = match.group(2)
    return found


@pytest.mark.integration
def test_bad_lines_reported_and_the_rest_delivered_exactly_once(
    capsys: pytest.CaptureFixture[str], queues: Queues, tmp_path: Path
) -> None:
    path = tmp_path / "requests.jsonl"
    bad, usernames = write_mixed(path, 150)
    queue = queues.create()
    run = run_cli(
        capsys,
        "--queue-url",
        queue,
        "--endpoint-url",
        queues.endpoint_url,
        "--from-file",
        str(path),
    )
    assert run.status == 1  # not everything was sent
    assert run.json() == {"Sent": len(usernames), "Invalid": len(bad), "Failed": 0}

    reported = reported_lines(run.err, str(path))
    assert set(reported) == set(bad)
    for number, reason in bad.items():
        assert reason in reported[number], (number, reported[number])
    assert "example.com" not in run.err  # reasons name fields, never values

    bodies = queues.bodies(queue)
    assert Counter(b["Username"] for b in bodies) == Counter(usernames)  # each exactly once
    request_ids = [b["RequestId"] for b in bodies]
    assert len(set(request_ids)) == len(bodies)
    for body in bodies:
        i = int(body["Username"][5:10])
        if i % 2 == 0:
            assert body["RequestId"] == f"req-{i}"
        else:
            assert uuid.UUID(body["RequestId"]).version == 4


@pytest.mark.integration
def test_from_stdin(
    capsys: pytest.CaptureFixture[str], queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [good(i, with_id=False) for i in range(57)]
    data = "".join(line + "\n" for line in lines).encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    queue = queues.create()
    run = run_cli(
        capsys,
        "--queue-url",
        queue,
        "--endpoint-url",
        queues.endpoint_url,
        "--from-file",
        "-",
        "--output",
        "text",
    )
    assert run.status == 0, run.err
    assert run.out == "0\t0\t57\n"  # Failed, Invalid, Sent
    assert sorted(b["Username"] for b in queues.bodies(queue)) == sorted(
        json.loads(line)["Username"] for line in lines
    )


@pytest.mark.integration
def test_stdin_problems_are_named_after_stdin(
    capsys: pytest.CaptureFixture[str], queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = (good(1, with_id=False) + "\nnot json\n").encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    queue = queues.create()
    run = run_cli(
        capsys, "--queue-url", queue, "--endpoint-url", queues.endpoint_url, "--from-file", "-"
    )
    assert run.status == 1
    assert reported_lines(run.err, "<stdin>").keys() == {2}
    assert len(queues.drain(queue)) == 1


def test_validate_only_sends_nothing(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    bad, usernames = write_mixed(path, 100)
    run = run_cli(capsys, "--from-file", str(path), "--validate-only")
    assert run.status == 1
    assert run.json() == {"Valid": len(usernames), "Invalid": len(bad)}
    assert set(reported_lines(run.err, str(path))) == set(bad)

    clean = tmp_path / "clean.jsonl"
    clean.write_text(good(1, with_id=True) + "\n", encoding="utf-8")
    assert run_cli(capsys, "--from-file", str(clean), "--validate-only").status == 0


def test_many_bad_lines_are_summarised(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("nope\n" * 250, encoding="utf-8")
    run = run_cli(capsys, "--from-file", str(path), "--validate-only")
    assert len(reported_lines(run.err, str(path))) == 100
    assert f"{path}: ... and 150 more invalid lines" in run.err
    assert run.json() == {"Valid": 0, "Invalid": 250}


@pytest.mark.integration
def test_a_queue_that_does_not_exist_fails_every_request(
    capsys: pytest.CaptureFixture[str], queues: Queues, tmp_path: Path
) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_text("".join(good(i, with_id=True) + "\n" for i in range(25)), encoding="utf-8")
    missing = f"{queues.endpoint_url}/123456789012/missing-{uuid.uuid4().hex}"
    run = run_cli(
        capsys,
        "--queue-url",
        missing,
        "--endpoint-url",
        queues.endpoint_url,
        "--from-file",
        str(path),
    )
    assert run.status == 254  # SQS answered with an error, as the AWS CLI exits
    assert run.json() == {"Sent": 0, "Invalid": 0, "Failed": 25}
    reported = reported_lines(run.err, str(path))
    assert set(reported) == set(range(1, 26))
    assert all(reason.startswith("failed: ") for reason in reported.values())


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (("--client-id", "x"), "argument --from-file: not allowed with --client-id"),
        (("--cli-input-json", "{}"), "not allowed with --cli-input-json"),
        (("--wait", "5"), "not allowed with --wait"),
        (("--message-group-id", "g"), "not allowed with --message-group-id"),
    ],
)
def test_from_file_conflicts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: tuple[str, str], reason: str
) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_text(good(1, with_id=True) + "\n", encoding="utf-8")
    run = run_cli(capsys, "--queue-url", "http://127.0.0.1:1/q", "--from-file", str(path), *extra)
    assert run.status == 252
    assert reason in run.err


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    run = run_cli(
        capsys, "--queue-url", "http://127.0.0.1:1/q", "--from-file", str(tmp_path / "nope")
    )
    assert run.status == 252
    assert "error: argument --from-file: cannot read" in run.err


# The streaming passes on their own.


def write_good(path: Path, count: int) -> int:
    with path.open("w", encoding="utf-8") as stream:
        for i in range(count):
            stream.write(good(i, with_id=i % 2 == 0) + "\n")
    return path.stat().st_size


def test_a_hundred_thousand_lines_go_through_both_passes(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    write_good(path, 100_000)
    with open_source(str(path)) as source:
        checked = scan(source)
        source.seek(0)
        last = max(number for number, _, _ in valid_requests(source))
    assert checked.valid == last == 100_000
    assert checked.invalid == 0


def test_memory_stays_flat_whatever_the_file_size(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    size = write_good(path, 20_000)
    tracemalloc.start()
    try:
        with open_source(str(path)) as source:
            checked = scan(source)
            source.seek(0)
            count = sum(1 for _ in valid_requests(source))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert checked.valid == count == 20_000
    assert peak < size / 20, f"peak {peak} bytes for a {size}-byte file"


def test_stdin_is_spooled_so_it_can_be_read_twice() -> None:
    stdin = io.BytesIO(b"".join(good(i, with_id=True).encode() + b"\n" for i in range(30)))
    with open_source("-", stdin=stdin) as source:
        assert scan(source).valid == 30
        source.seek(0)
        assert [number for number, _, _ in valid_requests(source)] == list(range(1, 31))


def test_numbered_lines_skip_an_overlong_line_without_losing_the_next() -> None:
    data = b"x" * (MAX_BODY_BYTES * 3) + b"\n" + good(1, with_id=True).encode() + b"\r\n"
    lines = list(numbered_lines(io.BytesIO(data)))
    assert [(number, problem is not None) for number, _, problem in lines] == [
        (1, True),
        (2, False),
    ]
    assert lines[1][1] is not None and json.loads(lines[1][1])["RequestId"] == "req-1"


def test_a_byte_order_mark_is_ignored() -> None:
    data = b"\xef\xbb\xbf" + good(1, with_id=True).encode() + b"\n"
    assert scan(io.BytesIO(data)).valid == 1


# The progress bar.


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_draws_on_a_terminal() -> None:
    stream = Terminal()
    bar = ProgressBar(4, stream)
    for i in range(4):
        bar.advance(failed=i == 3)
    bar.close()
    drawn = stream.getvalue()
    assert drawn.startswith("\r[")
    assert "4/4 100%" in drawn
    assert "1 failed" in drawn
    assert drawn.endswith("\n")
    assert bar.line(0.0).count("#") == 30


def test_progress_bar_is_silent_when_not_a_terminal() -> None:
    stream = io.StringIO()
    bar = ProgressBar(3, stream)
    bar.advance()
    bar.close()
    assert stream.getvalue() == ""
