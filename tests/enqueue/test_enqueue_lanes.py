"""Lanes: which queue a request goes to, from the command line and from the Python client.

Every case makes an interactive and a bulk queue of its own on the devstack and reads both back,
so a request that went to the wrong lane shows up where it should not be.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from resend_client.client import ResendClient, SyncResendClient, lane_queue_url

from .helpers import Queues, Run, run_cli

pytestmark = pytest.mark.integration

CLIENT_ID = "1example23456789"
NO_BULK_LANE = (
    "resend-client enqueue: no bulk lane is configured (RESEND_BULK_QUEUE_URL is not set): "
    "these requests share the interactive lane, RESEND_QUEUE_URL\n"
)


@dataclass
class Lanes:
    interactive: str
    bulk: str
    queues: Queues

    def usernames(self) -> tuple[list[str], list[str]]:
        """The usernames on each lane's queue (interactive, bulk), read off and sorted."""
        return (
            sorted(b["Username"] for b in self.queues.bodies(self.interactive)),
            sorted(b["Username"] for b in self.queues.bodies(self.bulk)),
        )


@pytest.fixture
def lanes(queues: Queues, monkeypatch: pytest.MonkeyPatch) -> Lanes:
    """Both lanes configured, as in a deployment with a bulk lane; a test may unset one."""
    found = Lanes(queues.create(), queues.create(), queues)
    monkeypatch.setenv("RESEND_QUEUE_URL", found.interactive)
    monkeypatch.setenv("RESEND_BULK_QUEUE_URL", found.bulk)
    monkeypatch.setenv("AWS_ENDPOINT_URL", queues.endpoint_url)
    return found


def one(capsys: pytest.CaptureFixture[str], username: str, *flags: str) -> Run:
    return run_cli(capsys, "--client-id", CLIENT_ID, "--username", username, *flags)


def requests_file(tmp_path: Path, *usernames: str) -> str:
    path = tmp_path / "requests.jsonl"
    lines = (json.dumps({"ClientId": CLIENT_ID, "Username": name}) for name in usernames)
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def from_file(capsys: pytest.CaptureFixture[str], path: str, *flags: str) -> Run:
    return run_cli(capsys, "--from-file", path, *flags)


# One request.


def test_one_request_goes_to_the_interactive_lane_by_default(
    capsys: pytest.CaptureFixture[str], lanes: Lanes
) -> None:
    run = one(capsys, "jane")
    assert run.status == 0, run.err
    assert run.err == ""
    assert lanes.usernames() == (["jane"], [])


def test_one_request_with_priority_bulk_goes_to_the_bulk_lane(
    capsys: pytest.CaptureFixture[str], lanes: Lanes
) -> None:
    run = one(capsys, "jane", "--priority", "bulk")
    assert run.status == 0, run.err
    assert set(run.json()) == {"RequestId", "MessageId"}  # the same answer as on either lane
    assert lanes.usernames() == ([], ["jane"])


def test_priority_bulk_without_a_bulk_lane_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], lanes: Lanes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RESEND_BULK_QUEUE_URL")
    run = one(capsys, "jane", "--priority", "bulk")
    assert run.status == 252
    assert run.out == ""
    assert run.err.startswith("usage: ")
    assert (
        "resend-client enqueue: error: argument --priority: the bulk lane needs "
        "RESEND_BULK_QUEUE_URL (the bulk lane's queue URL), or give --queue-url\n"
    ) in run.err
    # Never quietly on the interactive lane instead.
    assert lanes.queues.depth(lanes.interactive) == 0


def test_priority_interactive_without_its_queue_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], lanes: Lanes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RESEND_QUEUE_URL")
    run = one(capsys, "jane", "--priority", "interactive")
    assert run.status == 252
    assert "error: argument --queue-url: required (or set RESEND_QUEUE_URL)" in run.err
    assert lanes.queues.depth(lanes.bulk) == 0  # never the other lane instead


def test_a_lane_variable_that_is_no_url_is_named_not_echoed(
    capsys: pytest.CaptureFixture[str], lanes: Lanes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESEND_BULK_QUEUE_URL", "campaign-queue-name")
    run = one(capsys, "jane", "--priority", "bulk")
    assert run.status == 252
    assert "error: RESEND_BULK_QUEUE_URL: must be a queue URL (https://sqs...)" in run.err
    assert "campaign-queue-name" not in run.err
    assert lanes.queues.depth(lanes.interactive) == 0


@pytest.mark.parametrize("value", ["high", "Bulk", "bulk,interactive", ""])
def test_priority_takes_only_its_two_values_and_never_echoes_another(
    capsys: pytest.CaptureFixture[str], lanes: Lanes, value: str
) -> None:
    run = one(capsys, "jane", "--priority", value)
    assert run.status == 252
    assert "error: argument --priority: must be interactive or bulk\n" in run.err
    if value:
        assert value not in run.err
    assert lanes.usernames() == ([], [])


# A bulk send.


def test_from_file_goes_to_the_bulk_lane_when_one_is_configured(
    capsys: pytest.CaptureFixture[str], lanes: Lanes, tmp_path: Path
) -> None:
    run = from_file(capsys, requests_file(tmp_path, "u-1", "u-2", "u-3"))
    assert run.status == 0, run.err
    assert run.json() == {"Sent": 3, "Invalid": 0, "Failed": 0}
    assert run.err == ""  # the expected lane: nothing to say
    assert lanes.usernames() == ([], ["u-1", "u-2", "u-3"])


def test_from_file_without_a_bulk_lane_shares_the_interactive_one_and_says_so(
    capsys: pytest.CaptureFixture[str],
    lanes: Lanes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RESEND_BULK_QUEUE_URL")
    path = tmp_path / "requests.jsonl"
    path.write_text(
        json.dumps({"ClientId": CLIENT_ID, "Username": "u-1"})
        + "\n"
        + json.dumps({"ClientId": CLIENT_ID, "Username": "u 2"})
        + "\n"
    )
    run = from_file(capsys, str(path), "--output", "text")
    assert run.status == 1  # a bad line: the status says so, as without lanes
    assert run.out == "0\t1\t1\n"  # stdout holds the summary alone
    assert run.err.count(NO_BULK_LANE) == 1
    # Said once, on one line, before the lines' own reports.
    assert run.err.splitlines()[0] == NO_BULK_LANE.rstrip("\n")
    assert run.err.splitlines()[1].startswith(f"{path}:2: Username: ")
    assert lanes.usernames() == (["u-1"], [])


def test_from_file_with_priority_interactive_goes_there_without_a_note(
    capsys: pytest.CaptureFixture[str], lanes: Lanes, tmp_path: Path
) -> None:
    run = from_file(capsys, requests_file(tmp_path, "u-1", "u-2"), "--priority", "interactive")
    assert run.status == 0, run.err
    assert run.err == ""
    assert lanes.usernames() == (["u-1", "u-2"], [])


def test_from_file_with_priority_bulk_without_a_bulk_lane_sends_nothing(
    capsys: pytest.CaptureFixture[str],
    lanes: Lanes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RESEND_BULK_QUEUE_URL")
    run = from_file(capsys, requests_file(tmp_path, "u-1"), "--priority", "bulk")
    assert run.status == 252
    assert run.out == ""
    assert "error: argument --priority: the bulk lane needs RESEND_BULK_QUEUE_URL" in run.err
    assert NO_BULK_LANE not in run.err
    assert lanes.queues.depth(lanes.interactive) == 0


def test_from_file_with_neither_lane_names_both_settings(
    capsys: pytest.CaptureFixture[str],
    lanes: Lanes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RESEND_BULK_QUEUE_URL")
    monkeypatch.delenv("RESEND_QUEUE_URL")
    run = from_file(capsys, requests_file(tmp_path, "u-1"))
    assert run.status == 252
    assert "error: argument --queue-url: required (or set RESEND_QUEUE_URL)" in run.err
    assert NO_BULK_LANE not in run.err  # nothing is sent, so no lane is shared


def test_validate_only_needs_no_lane(
    capsys: pytest.CaptureFixture[str],
    lanes: Lanes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RESEND_BULK_QUEUE_URL")
    run = from_file(capsys, requests_file(tmp_path, "u-1"), "--validate-only")
    assert run.status == 0, run.err
    assert run.json() == {"Valid": 1, "Invalid": 0}
    assert run.err == ""


# --queue-url.


@pytest.mark.parametrize("bulk_send", [False, True])
def test_queue_url_wins_over_both_lane_variables(
    capsys: pytest.CaptureFixture[str],
    lanes: Lanes,
    queues: Queues,
    tmp_path: Path,
    bulk_send: bool,
) -> None:
    chosen = queues.create()
    if bulk_send:
        run = from_file(capsys, requests_file(tmp_path, "jane"), "--queue-url", chosen)
    else:
        run = one(capsys, "jane", "--queue-url", chosen)
    assert run.status == 0, run.err
    assert run.err == ""
    assert [b["Username"] for b in queues.bodies(chosen)] == ["jane"]
    assert lanes.usernames() == ([], [])


@pytest.mark.parametrize("priority", ["interactive", "bulk"])
@pytest.mark.parametrize("bulk_send", [False, True])
def test_queue_url_with_priority_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
    lanes: Lanes,
    tmp_path: Path,
    priority: str,
    bulk_send: bool,
) -> None:
    flags = ("--queue-url", lanes.bulk, "--priority", priority)
    if bulk_send:
        run = from_file(capsys, requests_file(tmp_path, "jane"), *flags)
    else:
        run = one(capsys, "jane", *flags)
    assert run.status == 252
    assert run.out == ""
    assert (
        "resend-client enqueue: error: argument --priority: not allowed with --queue-url "
        "(a queue URL names its lane: give one or the other)\n"
    ) in run.err
    assert lanes.usernames() == ([], [])


def test_an_empty_queue_url_is_refused_not_replaced_by_a_lane(
    capsys: pytest.CaptureFixture[str], lanes: Lanes
) -> None:
    run = one(capsys, "jane", "--queue-url", "")
    assert run.status == 252
    assert "error: argument --queue-url: must be a queue URL" in run.err
    assert lanes.usernames() == ([], [])


def test_the_skeleton_needs_no_lane(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "--priority", "bulk", "--generate-cli-skeleton")
    assert run.status == 0, run.err
    assert set(run.json()) >= {"ClientId", "Username"}


# The Python client.


async def test_the_async_client_sends_to_the_lane_of_its_priority(lanes: Lanes) -> None:
    async with ResendClient(priority="bulk") as bulk:
        assert bulk.queue_url == lanes.bulk
        await bulk.enqueue(CLIENT_ID, "campaign-user")
        report = await bulk.enqueue_many([{"ClientId": CLIENT_ID, "Username": "backfill-user"}])
    assert report.sent == 1
    async with ResendClient(priority="interactive") as interactive:
        await interactive.enqueue(CLIENT_ID, "signup-user")
    assert lanes.usernames() == (["signup-user"], ["backfill-user", "campaign-user"])


def test_the_sync_client_sends_to_the_lane_of_its_priority(lanes: Lanes) -> None:
    with SyncResendClient(priority="bulk") as client:
        assert client.queue_url == lanes.bulk
        client.enqueue(CLIENT_ID, "campaign-user")
    with SyncResendClient(lanes.interactive) as client:  # or by its queue URL
        client.enqueue(CLIENT_ID, "signup-user")
    assert lanes.usernames() == (["signup-user"], ["campaign-user"])


@pytest.mark.parametrize("make", [ResendClient, SyncResendClient])
def test_a_client_for_a_lane_that_is_not_configured_fails_at_once(
    make: type[ResendClient] | type[SyncResendClient],
    lanes: Lanes,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RESEND_BULK_QUEUE_URL")
    with pytest.raises(ValueError, match="RESEND_BULK_QUEUE_URL is not set") as caught:
        make(priority="bulk")
    assert lanes.interactive not in str(caught.value)


@pytest.mark.parametrize("make", [ResendClient, SyncResendClient])
def test_a_client_takes_a_queue_url_or_a_priority_not_both(
    make: type[ResendClient] | type[SyncResendClient], lanes: Lanes
) -> None:
    with pytest.raises(ValueError, match="queue_url or priority, not both"):
        make(lanes.bulk, priority="bulk")
    with pytest.raises(ValueError, match="queue_url: required"):
        make()
    with pytest.raises(ValueError, match="queue_url: required"):
        make("")
    with pytest.raises(ValueError, match="priority: must be 'interactive' or 'bulk'"):
        make(priority="high")  # type: ignore[arg-type]


def test_lane_queue_url_reads_the_lane_variable() -> None:
    environ = {"RESEND_QUEUE_URL": "https://sqs/1/i", "RESEND_BULK_QUEUE_URL": "https://sqs/1/b"}
    assert lane_queue_url("interactive", environ) == "https://sqs/1/i"
    assert lane_queue_url("bulk", environ) == "https://sqs/1/b"
    with pytest.raises(ValueError, match="RESEND_BULK_QUEUE_URL is not set"):
        lane_queue_url("bulk", {"RESEND_QUEUE_URL": "https://sqs/1/i"})
    with pytest.raises(ValueError, match="RESEND_QUEUE_URL is not set"):
        lane_queue_url("interactive", {"RESEND_BULK_QUEUE_URL": ""})
