"""Fixtures for the dedupe store suite: one ``store`` fixture, parametrized over every backend.

DynamoDB runs against moto's real HTTP server, started in-process once per session and only
when a DynamoDB test runs; each test gets its own table. Redis tests use the server at
redis://127.0.0.1:6379 under a key prefix unique to the test, deleted afterwards.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
from aiobotocore.session import AioSession
from moto.server import ThreadedMotoServer

from worker.dedupe import DedupeStore, build_dedupe_store
from worker.dedupe.dynamodb import TTL_ATTRIBUTE, table_spec
from worker.settings import DedupeBackend, Settings

REDIS_URL = "redis://127.0.0.1:6379/0"
REGION = "us-east-1"

BACKENDS = [
    pytest.param(DedupeBackend.MEMORY, id="memory"),
    pytest.param(DedupeBackend.REDIS, id="redis", marks=pytest.mark.integration),
    pytest.param(DedupeBackend.DYNAMODB, id="dynamodb", marks=pytest.mark.integration),
]


def build_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/resend",
        "result_topic_arn": "arn:aws:sns:us-east-1:123456789012:resend-results",
        "region": REGION,
        "dedupe_key_prefix": f"test-{uuid.uuid4().hex[:12]}",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def make_settings() -> Callable[..., Settings]:
    """Valid worker settings with the given overrides and a fresh key prefix."""
    return build_settings


@pytest.fixture
def closed_port() -> int:
    """A local port with nothing listening on it (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials from the environment, where the store's default session finds them."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    for name in (
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_DYNAMODB",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def dynamodb_table(moto_endpoint: str) -> AsyncIterator[str]:
    """A fresh dedupe table, defined by the module's own table_spec, with TTL on as deployed."""
    name = f"dedupe-{uuid.uuid4().hex}"
    async with AioSession().create_client(
        "dynamodb",
        region_name=REGION,
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ) as client:
        await client.create_table(**table_spec(name))
        await client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": TTL_ATTRIBUTE, "Enabled": True},
        )
        yield name
        await client.delete_table(TableName=name)


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix unique to the test; every key under it is deleted afterwards."""
    import redis.asyncio as aioredis

    prefix = f"test-{uuid.uuid4().hex}"
    yield prefix
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture(params=BACKENDS)
def store_settings(request: pytest.FixtureRequest) -> tuple[Settings, str | None]:
    """Settings for each backend and, for DynamoDB, the local endpoint.

    Synchronous so it can pull in the backend's own fixtures only when that backend runs.
    """
    backend: DedupeBackend = request.param
    if backend is DedupeBackend.MEMORY:
        return build_settings(dedupe_backend=backend), None
    if backend is DedupeBackend.REDIS:
        prefix = request.getfixturevalue("redis_prefix")
        return build_settings(
            dedupe_backend=backend, redis_url=REDIS_URL, dedupe_key_prefix=prefix
        ), None
    table = request.getfixturevalue("dynamodb_table")
    endpoint_url = request.getfixturevalue("moto_endpoint")
    return build_settings(dedupe_backend=backend, dedupe_table=table), endpoint_url


@pytest.fixture
async def store(
    store_settings: tuple[Settings, str | None], aws_credentials: None
) -> AsyncIterator[DedupeStore]:
    """A store of each backend, built by the factory from settings as the worker builds it."""
    settings, endpoint_url = store_settings
    built = build_dedupe_store(settings, endpoint_url=endpoint_url)
    assert built is not None
    yield built
    await built.close()
