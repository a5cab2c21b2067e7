"""The client stops early and says so: unreachable endpoints, a stop event, bad keyword values."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import EndpointConnectionError
from resend_client.client import BulkOutcome, EnqueueError, ResendClient
from resend_contract.models import InvalidRequest

from .test_enqueue_client_units import QUEUE, FakeSQS, make, ok, requests

REPO = Path(__file__).resolve().parents[2]


def unreachable(call: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
    raise EndpointConnectionError(endpoint_url="https://sqs.eu-west-1.amazonaws.com/")


async def test_one_request_to_an_unreachable_endpoint_takes_few_attempts() -> None:
    sqs = FakeSQS(unreachable)
    async with make(sqs) as client:
        with pytest.raises(EnqueueError) as caught:
            await client.enqueue("abc", "jane")
    assert caught.value.code == "ConnectionError" and caught.value.kind == "connection"
    assert "amazonaws" not in str(caught.value)  # the table's words, not the exception's
    assert len(sqs.calls) == 3


async def test_bulk_stops_after_calls_in_a_row_could_not_connect() -> None:
    sqs = FakeSQS(unreachable)
    async with make(sqs, concurrency=1) as client:
        report = await client.enqueue_many(requests(1000))
    assert (report.sent, report.failed) == (0, 1000)
    assert report.stopped == "unreachable"
    assert isinstance(report.stop_error, EnqueueError)
    assert len(sqs.calls) == 2 * 3  # two calls of three attempts, then none


async def test_a_connection_that_comes_back_does_not_stop_the_send() -> None:
    def flaky(call: int, entries: list[dict[str, Any]]) -> dict[str, Any]:
        if call % 4 in (1, 2, 3):
            raise EndpointConnectionError(endpoint_url="x")
        return ok(call, entries)

    sqs = FakeSQS(flaky)
    async with make(sqs, concurrency=1) as client:
        report = await client.enqueue_many(requests(40))
    assert report.stopped is None
    assert report.sent + report.failed == 40 and report.sent > 0


async def test_a_stop_event_ends_the_reading_and_counts_what_was_sent() -> None:
    stop = asyncio.Event()
    seen: list[BulkOutcome] = []

    def on_outcome(outcome: BulkOutcome) -> None:
        seen.append(outcome)
        if len(seen) == 25:
            stop.set()

    sqs = FakeSQS()
    async with make(sqs, concurrency=1) as client:
        report = await client.enqueue_many(requests(1000), on_outcome=on_outcome, stop=stop)
    assert report.stopped == "interrupted"
    assert not report.all_sent
    assert report.sent == len(seen) == sum(len(call) for call in sqs.calls)
    assert 25 <= report.sent < 1000


@pytest.mark.parametrize(
    "values",
    [
        {"client_metadata": "a=1"},
        {"user_context_data": ["IpAddress"]},
        {"analytics_metadata": 7},
    ],
)
async def test_keyword_values_of_the_wrong_type_are_invalid_requests(
    values: dict[str, Any],
) -> None:
    sqs = FakeSQS()
    async with ResendClient(QUEUE, sqs_client=sqs) as client:
        with pytest.raises(InvalidRequest) as caught:
            await client.enqueue("abc", "jane", **values)
    assert "a=1" not in caught.value.message
    assert sqs.calls == []


def test_a_fresh_producer_install_holds_none_of_the_workers_runtime(tmp_path: Path) -> None:
    """What pip would install for ./contract and ./client alone, resolved without installing."""
    report = tmp_path / "report.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--quiet",
            "--ignore-installed",
            "--report",
            str(report),
            "./contract",
            "./client",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = {
        item["metadata"]["name"].lower().replace("_", "-")
        for item in json.loads(report.read_text())["install"]
    }
    assert {"resend-client", "resend-contract", "aiobotocore", "pydantic"} <= names
    for forbidden in ("redis", "prometheus-client", "structlog", "tenacity", "moto"):
        assert forbidden not in names
