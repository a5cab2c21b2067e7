"""The secrets refresher against bad rotations: a real worker process, a real file, the devstack.

Each bad document must fail one re-read (one log line, no content, counted by reason) while the
worker keeps sending codes with the last good secrets; the next good rotation is picked up.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest
from aiobotocore.session import get_session
from prometheus_client.parser import text_string_to_metric_families

from .harness import Harness, WorkerProcess, spawn_worker

pytestmark = pytest.mark.integration

REFRESH = "10"  # the shortest re-read period the settings allow
FAILED_LINE = "client secrets refresh failed; keeping the last good ones"


def metrics_port(worker: WorkerProcess) -> int:
    for line in worker.log().splitlines():
        if '"http server listening"' in line:
            return int(json.loads(line)["port"])
    raise AssertionError("the worker did not log its port")


async def failures(port: int, reason: str) -> float:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/metrics") as answer,
    ):
        text = await answer.text()
    for family in text_string_to_metric_families(text):
        if family.name == "resend_worker_client_secrets_refresh_failures":
            for sample in family.samples:
                if sample.name.endswith("_total") and sample.labels["reason"] == reason:
                    return sample.value
    raise AssertionError("no failure counter for " + reason)


async def wait_for_failure(port: int, reason: str, before: float, worker: WorkerProcess) -> None:
    deadline = time.monotonic() + 3 * int(REFRESH)
    while await failures(port, reason) <= before:
        assert time.monotonic() < deadline, f"no {reason} failure counted:\n{worker.log()[-2000:]}"
        await asyncio.sleep(0.25)


async def wait_for_log(worker: WorkerProcess, text: str) -> None:
    deadline = time.monotonic() + 3 * int(REFRESH)
    while text not in worker.log():
        assert time.monotonic() < deadline, f"never logged {text!r}:\n{worker.log()[-2000:]}"
        await asyncio.sleep(0.25)


async def sent(harness: Harness, username: str) -> str:
    await harness.send(
        {"ClientId": harness.resources.client_id, "Username": username, "RequestId": username}
    )
    (result,) = await harness.results(1, timeout=30)
    return str(result["Outcome"])


async def test_bad_secrets_file_keeps_the_last_good_secrets(
    harness: Harness, tmp_path: Path
) -> None:
    resources = harness.resources
    client_id, secret = resources.client_id, resources.client_secret
    users = harness.add_users("rotate", 5)
    path = tmp_path / "client-secrets.json"
    path.write_text(json.dumps({client_id: secret}))
    bad = [
        ("not_utf8", b'{"' + client_id.encode() + b'": "\xff\xfe\xfd"}'),
        ("invalid", b'{"' + client_id.encode() + b'": 7' + b"3" * 60_000 + b"}"),
        ("invalid", b'{"' + client_id.encode() + b'": ' + b"[" * 30_000 + b"]" * 30_000 + b"}"),
        # A writer that truncates before writing, caught in between.
        ("invalid", b""),
    ]
    worker = await spawn_worker(
        resources,
        tmp_path,
        "file",
        RESEND_CLIENT_SECRETS_FILE=str(path),
        RESEND_CLIENT_SECRETS_REFRESH_SECONDS=REFRESH,
    )
    port = metrics_port(worker)
    try:
        for (reason, content), user in zip(bad, users, strict=False):
            before = await failures(port, reason)
            path.write_bytes(content)
            await wait_for_failure(port, reason, before, worker)
            assert await sent(harness, user) == "sent", f"lost the good secrets after {reason}"
        path.write_text(json.dumps({client_id: secret, "otherclient123": "another-secret"}))
        await wait_for_log(worker, '"client_count": 2')
        assert await sent(harness, users[-1]) == "sent"
    finally:
        assert await worker.terminate() == 0
    log = worker.log()
    assert log.count(FAILED_LINE) == len(bad)
    for leaked in (secret, "another-secret", "3333333333", "[[[[", "\\xff"):
        assert leaked not in log, leaked


async def test_bad_secrets_manager_value_keeps_the_last_good_secrets(
    harness: Harness, tmp_path: Path
) -> None:
    resources = harness.resources
    client_id, secret = resources.client_id, resources.client_secret
    (user,) = harness.add_users("rotatesm", 1)
    bad = [
        '"not an object"',
        json.dumps({client_id: {"secret": secret}}),
        '{"' + client_id + '": 9' + "1" * 60_000 + "}",
        '{"' + client_id + '": ' + "[" * 30_000 + "]" * 30_000 + "}",
    ]
    worker = await spawn_worker(
        resources, tmp_path, "sm", RESEND_CLIENT_SECRETS_REFRESH_SECONDS=REFRESH
    )
    port = metrics_port(worker)
    session = get_session()
    try:
        async with session.create_client("secretsmanager", region_name=resources.region) as sm:
            for value in bad:
                before = await failures(port, "invalid")
                await sm.put_secret_value(
                    SecretId=resources.client_secrets_secret_id, SecretString=value
                )
                await wait_for_failure(port, "invalid", before, worker)
            assert await sent(harness, user) == "sent"
            good = json.dumps({client_id: secret, "otherclient123": "another-secret"})
            await sm.put_secret_value(
                SecretId=resources.client_secrets_secret_id, SecretString=good
            )
            await wait_for_log(worker, '"client_count": 2')
    finally:
        assert await worker.terminate() == 0
    log = worker.log()
    assert log.count(FAILED_LINE) == len(bad)
    for leaked in (secret, "another-secret", "1111111111", "[[[[", "not an object"):
        assert leaked not in log, leaked
