"""A Redis password in RESEND_REDIS_URL / RESEND_RATE_LIMIT_REDIS_URL never reaches the log."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from .harness import Harness, spawn_worker

pytestmark = pytest.mark.integration

PASSWORD = "pw-" + uuid.uuid4().hex


async def test_redis_passwords_never_appear_in_the_log(harness: Harness, tmp_path: Path) -> None:
    (name,) = harness.add_users("redispw", 1)
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    # The dedupe store on the real Redis (which accepts any password when it has none set); the
    # rate limiter on a Redis that is not there, so its errors and the fallback get logged.
    worker = await spawn_worker(
        harness.resources,
        tmp_path,
        "redispw",
        RESEND_DEDUPE_BACKEND="redis",
        RESEND_REDIS_URL=f"redis://:{PASSWORD}@127.0.0.1:6379/0",
        RESEND_RATE_LIMIT_REDIS_URL=f"redis://user:{PASSWORD}@127.0.0.1:1/0",
        RESEND_DEDUPE_KEY_PREFIX=prefix,
        RESEND_LOG_LEVEL="DEBUG",
    )
    try:
        await harness.send(
            {"ClientId": harness.resources.client_id, "Username": name, "RequestId": "r1"}
        )
        (result,) = await harness.results(1, timeout=30)
    finally:
        assert await worker.terminate() == 0
    assert result["Outcome"] == "sent"
    log = worker.log()
    assert "rate limiter" in log, "the limiter's fallback was expected in the log"
    assert PASSWORD not in log
