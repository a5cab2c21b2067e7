"""Running the worker (or the SDK floor) against the fake AWS endpoint of ``bench.fakeaws``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.fakeaws import TOPIC_ARN, bulk_queue_url, queue_url
from bench.procs import Child, ChildError, Children

CLIENT_ID = "benchclient0000000000000000"
CLIENT_SECRET = "bench-client-secret"  # noqa: S105 (a made-up secret for a fake endpoint)


@dataclass
class FakeEndpoint:
    child: Child
    url: str

    @property
    def queue_url(self) -> str:
        return queue_url(self.url)

    @property
    def bulk_queue_url(self) -> str:
        return bulk_queue_url(self.url)

    async def stats(self) -> dict[str, Any]:
        return await self._call("GET", "stats")

    async def cognito_users(self) -> dict[str, int]:
        """Cognito calls per username (backlog mode)."""
        return {str(k): int(v) for k, v in (await self._call("GET", "cognito_users")).items()}

    async def timings(self) -> dict[str, Any]:
        """RequestId -> [queue, enqueued at] and -> [published at, outcome] (backlog mode)."""
        return await self._call("GET", "timings")

    async def send(self, bodies: list[str], *, bulk: bool = False) -> float:
        """Put requests on the requests queue (or the bulk one); the wall time they went on."""
        answer = await self._call(
            "POST", "send", {"queue": "bulk" if bulk else "requests", "bodies": bodies}
        )
        return float(answer["at"])

    async def _call(self, method: str, route: str, body: Any = None) -> dict[str, Any]:
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
                session.request(method, f"{self.url}/_bench/{route}", json=body) as answer,
            ):
                answer.raise_for_status()
                document: dict[str, Any] = await answer.json()
                return document
        except aiohttp.ClientError as exc:
            code = self.child.popen.poll()
            raise ChildError(
                f"the fake endpoint does not answer ({exc}); exit code {code}:\n"
                + self.child.log_tail()
            ) from exc


async def start_fake(
    children: Children,
    queue_file: Path | None = None,
    bulk_queue_file: Path | None = None,
    *,
    cycle: tuple[int, int] | None = None,
) -> FakeEndpoint:
    """A stream of requests, or with ``queue_file`` a finite backlog of those bodies.

    ``bulk_queue_file`` fills the bulk lane's queue too (backlog mode, the requests queue empty
    when ``queue_file`` is not given). ``cycle = (messages, users)`` is a backlog of that many
    requests whose usernames cycle through that many users (``bench.fakeaws.cycle_bodies``).
    """
    args = ["-m", "bench.fakeaws", "--client-id", CLIENT_ID]
    if queue_file is not None:
        args += ["--queue-file", str(queue_file)]
    if cycle is not None:
        args += ["--cycle-messages", str(cycle[0]), "--cycle-users", str(cycle[1])]
    if bulk_queue_file is not None:
        args += ["--bulk-queue-file", str(bulk_queue_file)]
    child = children.python("fakeaws", *args)
    port = int((await child.first_json_line(within=60.0))["port"])
    return FakeEndpoint(child, f"http://127.0.0.1:{port}")


def fake_worker_env(
    endpoint_url: str,
    *,
    concurrency: int,
    client_secrets: dict[str, str] | None = None,
    cognito_endpoint_url: str | None = None,
) -> dict[str, str]:
    """The worker's settings for the fake endpoint: the limiter out of the way, dedupe in memory.

    Client secrets come from the environment, so no Secrets Manager call is needed; every request
    has a distinct username, so the memory dedupe store does its full work for each one. With
    ``cognito_endpoint_url`` only Cognito goes elsewhere (the devstack), through botocore's
    per-service endpoint variable.
    """
    env = {
        "RESEND_QUEUE_URL": queue_url(endpoint_url),
        "RESEND_RESULT_TOPIC_ARN": TOPIC_ARN,
        "RESEND_CLIENT_SECRETS": json.dumps(client_secrets or {CLIENT_ID: CLIENT_SECRET}),
        "RESEND_COGNITO_MAX_RPS": "10000",
        "RESEND_DEDUPE_BACKEND": "memory",
        "RESEND_CONCURRENCY": str(concurrency),
        "RESEND_RECEIVE_WAIT_SECONDS": "20",
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    if cognito_endpoint_url is not None:
        env["AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER"] = cognito_endpoint_url
    return env
