"""FIFO queues: default group and deduplication ids, explicit ones, and what FIFO refuses."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from .helpers import Queues, Run, run_cli

pytestmark = pytest.mark.integration

CLIENT_ID = "1example23456789"
USERNAME = "jane@example.com"


def send(capsys: pytest.CaptureFixture[str], queues: Queues, queue: str, *extra: str) -> Run:
    return run_cli(
        capsys,
        "--queue-url",
        queue,
        "--endpoint-url",
        queues.endpoint_url,
        "--client-id",
        CLIENT_ID,
        "--username",
        USERNAME,
        *extra,
    )


def test_default_group_is_a_hash_of_the_user_and_dedup_is_the_request_id(
    capsys: pytest.CaptureFixture[str], queues: Queues
) -> None:
    queue = queues.create(fifo=True)
    run = send(capsys, queues, queue)
    assert run.status == 0, run.err
    printed = run.json()
    [message] = queues.drain(queue)
    attributes = message["Attributes"]
    expected_group = hashlib.sha256(f"{CLIENT_ID}\n{USERNAME}".encode()).hexdigest()
    assert attributes["MessageGroupId"] == expected_group
    assert "jane" not in attributes["MessageGroupId"]
    assert attributes["MessageDeduplicationId"] == printed["RequestId"]
    assert attributes["SequenceNumber"] == printed["SequenceNumber"]


def test_one_user_one_group_other_users_other_groups(
    capsys: pytest.CaptureFixture[str], queues: Queues
) -> None:
    queue = queues.create(fifo=True)
    for username in ("jane", "jane", "john"):
        run = run_cli(
            capsys,
            "--queue-url",
            queue,
            "--endpoint-url",
            queues.endpoint_url,
            "--client-id",
            CLIENT_ID,
            "--username",
            username,
        )
        assert run.status == 0, run.err
    groups: dict[str, set[str]] = {}
    for message in queues.drain(queue):
        groups.setdefault(json.loads(message["Body"])["Username"], set()).add(
            message["Attributes"]["MessageGroupId"]
        )
    assert len(groups["jane"]) == 1
    assert len(groups["john"]) == 1
    assert groups["jane"] != groups["john"]


def test_the_same_request_id_twice_is_delivered_once(
    capsys: pytest.CaptureFixture[str], queues: Queues
) -> None:
    queue = queues.create(fifo=True)
    first = send(capsys, queues, queue, "--request-id", "retry-safe-1")
    again = send(capsys, queues, queue, "--request-id", "retry-safe-1")
    assert first.status == again.status == 0
    assert len(queues.drain(queue)) == 1


def test_explicit_group_and_dedup_ids(capsys: pytest.CaptureFixture[str], queues: Queues) -> None:
    queue = queues.create(fifo=True)
    run = send(
        capsys,
        queues,
        queue,
        "--message-group-id",
        "tenant-7",
        "--message-deduplication-id",
        "dedup-1",
    )
    assert run.status == 0, run.err
    [message] = queues.drain(queue)
    assert message["Attributes"]["MessageGroupId"] == "tenant-7"
    assert message["Attributes"]["MessageDeduplicationId"] == "dedup-1"


@pytest.mark.parametrize(
    ("extra", "flag", "reason"),
    [
        (("--delay-seconds", "5"), "--delay-seconds", "FIFO queues take no per-message delay"),
        (("--message-group-id", "x" * 129), "--message-group-id", "1 to 128 printable ASCII"),
        (("--message-deduplication-id", "a b"), "--message-deduplication-id", "printable"),
    ],
)
def test_refused_on_fifo(
    capsys: pytest.CaptureFixture[str],
    queues: Queues,
    extra: tuple[str, str],
    flag: str,
    reason: str,
) -> None:
    queue = queues.create(fifo=True)
    run = send(capsys, queues, queue, *extra)
    assert run.status == 252
    assert f"error: argument {flag}: " in run.err
    assert reason in run.err
    assert queues.depth(queue) == 0


def test_delay_zero_is_fine_on_fifo(capsys: pytest.CaptureFixture[str], queues: Queues) -> None:
    queue = queues.create(fifo=True)
    assert send(capsys, queues, queue, "--delay-seconds", "0").status == 0
    assert queues.depth(queue) == 1


def test_bulk_on_fifo_groups_by_user_and_refuses_a_delay(
    capsys: pytest.CaptureFixture[str], queues: Queues, tmp_path: Path
) -> None:
    queue = queues.create(fifo=True)
    path = tmp_path / "requests.jsonl"
    lines = [{"ClientId": CLIENT_ID, "Username": f"user-{i % 3}"} for i in range(9)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    common = ("--queue-url", queue, "--endpoint-url", queues.endpoint_url, "--from-file", str(path))

    refused = run_cli(capsys, *common, "--delay-seconds", "3")
    assert refused.status == 252
    assert "argument --delay-seconds: FIFO queues take no per-message delay" in refused.err

    run = run_cli(capsys, *common)
    assert run.status == 0, run.err
    messages = queues.drain(queue)
    assert len(messages) == 9
    for message in messages:
        body = json.loads(message["Body"])
        group = hashlib.sha256(f"{CLIENT_ID}\n{body['Username']}".encode()).hexdigest()
        assert message["Attributes"]["MessageGroupId"] == group
        assert message["Attributes"]["MessageDeduplicationId"] == body["RequestId"]
