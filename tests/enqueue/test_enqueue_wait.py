"""``enqueue --wait`` end to end: the real worker, as a process, answering on the result topic.

The devstack runs in this process; the worker runs as ``python -m worker run`` with the
environment a deployment would give it, and the CLI waits on the queue subscribed to the
result topic.
"""

from __future__ import annotations

import subprocess

import pytest

from devstack import DevResources

from .helpers import Queues, run_cli

pytestmark = pytest.mark.integration


def test_wait_prints_the_workers_result(
    capsys: pytest.CaptureFixture[str],
    resources: DevResources,
    worker_process: subprocess.Popen[bytes],
    queues: Queues,
) -> None:
    common = [
        "--queue-url",
        resources.queue_url,
        "--endpoint-url",
        resources.endpoint_url,
        "--results-queue-url",
        resources.results_queue_url,
        "--client-id",
        resources.client_id,
    ]
    user = resources.unconfirmed_users[0].username

    first = run_cli(capsys, *common, "--username", user, "--request-id", "wait-1", "--wait", "60")
    assert worker_process.poll() is None, "the worker stopped"
    assert first.status == 0, first.err
    printed = first.json()
    assert printed["RequestId"] == "wait-1"
    result = printed["Result"]
    assert result["Outcome"] == "sent"
    assert result["RequestId"] == "wait-1"
    assert result["MessageId"] == printed["MessageId"]  # the SQS message the worker processed
    assert result["ClientId"] == resources.client_id
    assert result["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    assert "@example.com" not in result["CodeDeliveryDetails"]["Destination"]  # masked

    # The same user again within the deduplication window: a duplicate, still a success.
    again = run_cli(
        capsys,
        *common,
        "--username",
        user,
        "--wait",
        "60",
        "--query",
        "Result.[Outcome, Original.RequestId]",
        "--output",
        "text",
    )
    assert again.status == 0, again.err
    assert again.out == "duplicate\twait-1\n"

    # A user who is already confirmed: the worker's result says failed, and so does the status.
    confirmed = resources.confirmed_users[0].username
    failed = run_cli(capsys, *common, "--username", confirmed, "--wait", "60")
    assert failed.status == 1
    assert failed.json()["Result"]["Outcome"] == "failed"
    assert "the result is failed" in failed.err

    # Nothing left behind on the results queue: each awaited result was deleted.
    assert queues.depth(resources.results_queue_url) == 0
    assert worker_process.poll() is None


def test_wait_times_out_with_status_255(
    capsys: pytest.CaptureFixture[str], resources: DevResources
) -> None:
    """No worker running: the request is sent, no result comes."""
    run = run_cli(
        capsys,
        "--queue-url",
        resources.queue_url,
        "--endpoint-url",
        resources.endpoint_url,
        "--results-queue-url",
        resources.results_queue_url,
        "--client-id",
        resources.client_id,
        "--username",
        "nobody",
        "--request-id",
        "lonely",
        "--wait",
        "1",
    )
    assert run.status == 255
    assert run.json()["RequestId"] == "lonely"
    assert "no result for RequestId lonely within 1 seconds" in run.err
