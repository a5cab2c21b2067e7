"""Cognito's notion of "the same user", against a worker process on the local stack.

Two app clients of one user pool address the same users: configured as one pool, a request through
the second client within the window is a duplicate (one code); left unconfigured, each client is
its own pool and the user gets two codes. Usernames that only ``str.casefold()`` would merge are
distinct users and each get their code; ASCII case is one user only in a case-insensitive pool.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from devstack import DevUser

from .harness import Harness, WorkerProcess, spawn_worker

pytestmark = pytest.mark.integration

HASH_KEY = "integration-test-hash-key-0123456789"
PAIRS = [("straße", "strasse"), ("\u017fam", "sam"), ("\ufb01ona", "fiona")]


def pools(harness: Harness, *, case_sensitive: bool) -> str:
    resources = harness.resources
    return json.dumps(
        {
            resources.user_pool_id: {
                "CaseSensitive": case_sensitive,
                "ClientIds": [resources.client_id, resources.public_client_id],
            }
        }
    )


async def start(harness: Harness, tmp_path: Path, name: str, **env: str) -> WorkerProcess:
    return await spawn_worker(
        harness.resources,
        tmp_path,
        name,
        RESEND_HASH_KEY=HASH_KEY,
        RESEND_COGNITO_MAX_RPS="100",
        **env,
    )


async def ask(harness: Harness, client_id: str, username: str, request_id: str) -> dict[str, Any]:
    """One request, and its one result."""
    await harness.send({"ClientId": client_id, "Username": username, "RequestId": request_id})
    results = await harness.results(1)
    assert [r["RequestId"] for r in results] == [request_id], results
    result: dict[str, Any] = results[0]
    return result


def log_lines(worker: WorkerProcess, request_id: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("request_id") == request_id]


async def test_two_app_clients_of_one_pool_get_one_code(harness: Harness, tmp_path: Path) -> None:
    resources = harness.resources
    one, two = harness.add_users("pair", 2)
    worker = await start(
        harness, tmp_path, "pooled", RESEND_USER_POOLS=pools(harness, case_sensitive=True)
    )
    try:
        first = await ask(harness, resources.client_id, one, "via-secret-client")
        second = await ask(harness, resources.public_client_id, one, "via-public-client")
    finally:
        assert await worker.terminate() == 0
    assert first["Outcome"] == "sent"
    assert second["Outcome"] == "duplicate", second
    assert second["Original"]["RequestId"] == "via-secret-client"
    assert second["ClientId"] == resources.client_id  # the call that sent the code
    assert harness.admin.calls().sent_by_user == {one: 1}
    # The log pseudonym is the pool's too, so both lines name one user; never the username.
    users = {
        line["user"]
        for rid in ("via-secret-client", "via-public-client")
        for line in log_lines(worker, rid)
    }
    assert len(users) == 1 and None not in users
    assert one not in worker.log()

    # The same two requests with the pools not configured: each app client is its own pool.
    worker = await start(harness, tmp_path, "unpooled")
    try:
        alone = [
            await ask(harness, resources.client_id, two, "alone-secret-client"),
            await ask(harness, resources.public_client_id, two, "alone-public-client"),
        ]
    finally:
        assert await worker.terminate() == 0
    assert [r["Outcome"] for r in alone] == ["sent", "sent"]
    assert harness.admin.calls().sent_by_user == {one: 1, two: 2}


@pytest.mark.parametrize(
    "case_sensitive", [False, True], ids=["case-insensitive", "case-sensitive"]
)
async def test_casefold_pairs_stay_distinct_and_ascii_case_follows_the_pool(
    harness: Harness, tmp_path: Path, case_sensitive: bool
) -> None:
    resources = harness.resources
    tag = uuid.uuid4().hex[:6]
    names = [f"{name}-{tag}" for pair in PAIRS for name in pair]
    jane = f"jane-{tag}"
    harness.admin.add_users(
        resources.user_pool_id,
        [DevUser(name, f"u{i}-{tag}@example.net") for i, name in enumerate([*names, jane])],
    )
    worker = await start(
        harness,
        tmp_path,
        "folding",
        RESEND_USER_POOLS=pools(harness, case_sensitive=case_sensitive),
    )
    try:
        await harness.send_batch(
            [
                {"ClientId": resources.client_id, "Username": name, "RequestId": f"r{i}"}
                for i, name in enumerate([*names, jane])
            ]
        )
        first_wave = await harness.results(len(names) + 1, timeout=30)
        capital = await ask(harness, resources.public_client_id, f"Jane-{tag}", "capital")
    finally:
        assert await worker.terminate() == 0
    assert sorted(r["Outcome"] for r in first_wave) == ["sent"] * (len(names) + 1), first_wave
    sent = harness.admin.calls().sent_by_user
    assert {name: sent.get(name) for name in [*names, jane]} == dict.fromkeys([*names, jane], 1)
    called = {call.username for call in harness.admin.calls().calls}
    if case_sensitive:
        # Another user to a case-sensitive pool, unknown to it: Cognito is asked, and says so.
        assert capital["Outcome"] == "failed" and f"Jane-{tag}" in called, capital
        assert capital["Error"]["Code"] == "UserNotFoundException"
    else:
        assert capital["Outcome"] == "duplicate" and f"Jane-{tag}" not in called, capital
        assert capital["Original"]["RequestId"] == f"r{len(names)}"  # jane's request
