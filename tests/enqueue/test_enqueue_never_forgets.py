"""What was sent is never forgotten, whatever fails afterwards: the real command, as a process.

Each test runs ``python -m resend_client enqueue`` against the devstack and asserts its exit
status, its output and what reached the queue.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devstack import DevResources

from .helpers import Queues, command, run_cli

pytestmark = pytest.mark.integration

CLIENT_ID = "1example23456789"


def base(queues: Queues, queue: str) -> list[str]:
    return ["enqueue", "--queue-url", queue, "--endpoint-url", queues.endpoint_url]


def one(queues: Queues, queue: str) -> list[str]:
    return [*base(queues, queue), "--client-id", CLIENT_ID, "--username", "jane"]


def receipts(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def lines_file(path: Path, count: int) -> Path:
    path.write_text(
        "".join(
            json.dumps({"ClientId": CLIENT_ID, "Username": f"user-{i:05d}"}) + "\n"
            for i in range(count)
        )
    )
    return path


@pytest.mark.parametrize("query", ["nope(@)", "length(`1`)", "abs(MessageId)"])
def test_a_query_failing_at_run_time_exits_252_before_anything_is_sent(
    queues: Queues, query: str
) -> None:
    queue = queues.create()
    run = command(*one(queues, queue), "--query", query)
    assert run.status == 252, run.err[-600:]
    assert "argument --query: " in run.err
    assert "Traceback" not in run.err
    assert queues.depth(queue) == 0


def test_a_bad_query_with_from_file_sends_nothing(queues: Queues, tmp_path: Path) -> None:
    queue = queues.create()
    path = lines_file(tmp_path / "r.jsonl", 3)
    run = command(*base(queues, queue), "--from-file", str(path), "--query", "nope(Sent)")
    assert run.status == 252, run.err[-600:]
    assert queues.depth(queue) == 0


def test_a_closed_stdout_exits_0_and_the_receipt_is_kept(queues: Queues, tmp_path: Path) -> None:
    queue = queues.create()
    kept = tmp_path / "receipts.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "resend_client", *one(queues, queue), "--receipts-file", str(kept)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader went away before the answer was printed
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, err
    assert "Traceback" not in err
    [receipt] = receipts(kept)
    [message] = queues.drain(queue)
    assert receipt["MessageId"] == message["MessageId"]


def test_a_missing_results_queue_is_found_before_sending(queues: Queues) -> None:
    queue = queues.create()
    missing = queue.rsplit("/", 1)[0] + "/no-such-results-queue"
    run = command(*one(queues, queue), "--wait", "5", "--results-queue-url", missing)
    assert run.status == 254, run.err[-600:]
    assert "QueueDoesNotExist" in run.err or "NonExistentQueue" in run.err
    assert queues.depth(queue) == 0


def test_ctrl_c_while_waiting_prints_what_was_sent(queues: Queues, tmp_path: Path) -> None:
    queue, results = queues.create(), queues.create()
    kept = tmp_path / "receipts.jsonl"
    argv = [*one(queues, queue), "--wait", "60", "--results-queue-url", results]
    process = subprocess.Popen(
        [sys.executable, "-m", "resend_client", *argv, "--receipts-file", str(kept)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    deadline = time.monotonic() + 30
    while not (kept.exists() and kept.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    printed = json.loads(out)
    [message] = queues.drain(queue)
    assert printed["MessageId"] == message["MessageId"]
    assert printed["RequestId"] == json.loads(message["Body"])["RequestId"]
    assert "was sent" in err


def test_ctrl_c_during_from_file_reports_what_was_sent_and_a_rerun_sends_the_rest(
    queues: Queues, tmp_path: Path
) -> None:
    queue = queues.create()
    path = lines_file(tmp_path / "many.jsonl", 600)
    kept = tmp_path / "receipts.jsonl"
    argv = [*base(queues, queue), "--from-file", str(path), "--receipts-file", str(kept)]
    process = subprocess.Popen(
        [sys.executable, "-m", "resend_client", *argv, "--concurrency", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    deadline = time.monotonic() + 60
    while (not kept.exists() or len(kept.read_text().splitlines()) < 20) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    summary = json.loads(out)
    assert 0 < summary["Sent"] < 600
    assert summary["Sent"] + summary["Unsent"] == 600
    assert len(receipts(kept)) == summary["Sent"] == queues.depth(queue)

    rerun = command(*argv)
    assert rerun.status == 0, rerun.err
    again = rerun.json()
    assert again["Skipped"] == summary["Sent"]
    assert again["Sent"] == 600 - summary["Sent"]
    bodies = queues.bodies(queue)
    assert len(bodies) == 600
    assert len({b["Username"] for b in bodies}) == 600  # no line sent twice


def test_a_reused_request_id_gets_a_result(
    resources: DevResources, worker_process: subprocess.Popen[bytes]
) -> None:
    argv = [
        "enqueue",
        "--queue-url",
        resources.queue_url,
        "--endpoint-url",
        resources.endpoint_url,
        "--results-queue-url",
        resources.results_queue_url,
        "--client-id",
        resources.client_id,
        "--username",
        resources.unconfirmed_users[0].username,
        "--request-id",
        "signup-reused",
        "--wait",
        "60",
    ]
    first = command(*argv)
    assert first.status == 0, first.err
    second = command(*argv)
    assert second.status == 0, second.err
    answer = second.json()
    assert answer["Result"]["Outcome"] == first.json()["Result"]["Outcome"] == "sent"
    assert answer["Result"]["MessageId"] == answer["MessageId"] != first.json()["MessageId"]
    assert answer["Result"]["Original"]["MessageId"] == first.json()["MessageId"]


def test_a_closed_stdout_after_from_file_exits_0_with_the_receipts_kept(
    queues: Queues, tmp_path: Path
) -> None:
    queue = queues.create()
    path = lines_file(tmp_path / "r.jsonl", 15)
    kept = tmp_path / "receipts.jsonl"
    argv = [*base(queues, queue), "--from-file", str(path), "--receipts-file", str(kept)]
    process = subprocess.Popen(
        [sys.executable, "-m", "resend_client", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=os.environ.copy(),
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, err
    assert "Traceback" not in err
    assert len(receipts(kept)) == 15 == queues.depth(queue)


def test_a_results_queue_failing_after_the_send_still_prints_what_was_sent(
    capsys: pytest.CaptureFixture[str], queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resend_client.async_client import ResendClient
    from resend_client.errors import EnqueueError

    async def refused(self: ResendClient, *args: object, **kwargs: object) -> None:
        raise EnqueueError("AccessDenied", "not allowed (calling ReceiveMessage)")

    monkeypatch.setattr(ResendClient, "find_result", refused)
    queue, results = queues.create(), queues.create()
    argv = one(queues, queue)[1:]
    run = run_cli(capsys, *argv, "--wait", "5", "--results-queue-url", results)
    assert run.status == 254, run.err
    printed = run.json()
    [message] = queues.drain(queue)
    assert printed["MessageId"] == message["MessageId"]
    assert "AccessDenied" in run.err and "was sent as MessageId" in run.err
