"""Deduplication of resend requests per (app client, user).

``build_dedupe_store`` picks the backend from the settings: memory (one replica), Redis or
DynamoDB (shared by all replicas), or none. Stores open their clients lazily on first use inside
the running event loop; call ``ping()`` at start-up to fail fast and ``close()`` at shutdown.
"""

from __future__ import annotations

from worker.dedupe.base import (
    Claim,
    DedupeStore,
    DedupeStoreError,
    Record,
    ResultJson,
    Status,
    result_json,
)
from worker.dedupe.keys import dedupe_key
from worker.settings import DedupeBackend, Settings

__all__ = [
    "Claim",
    "DedupeStore",
    "DedupeStoreError",
    "Record",
    "ResultJson",
    "Status",
    "build_dedupe_store",
    "dedupe_key",
    "result_json",
]


def build_dedupe_store(
    settings: Settings, *, endpoint_url: str | None = None
) -> DedupeStore | None:
    """The configured store, or None when deduplication is off.

    ``endpoint_url`` points DynamoDB at a local stack; without it botocore still honours
    AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_DYNAMODB. Imports are deferred so a worker using one
    backend never imports the other's client library.
    """
    backend = settings.dedupe_backend
    if backend is DedupeBackend.OFF:
        return None
    if backend is DedupeBackend.MEMORY:
        from worker.dedupe.memory import MemoryDedupeStore

        return MemoryDedupeStore(settings.dedupe_bound)
    # Settings refuses a Redis backend without a URL and a DynamoDB one without a table.
    if backend is DedupeBackend.REDIS:
        assert settings.redis_url is not None
        from worker.dedupe.redis import RedisDedupeStore

        return RedisDedupeStore(
            settings.redis_url.get_secret_value(), key_prefix=settings.dedupe_key_prefix
        )
    assert settings.dedupe_table is not None
    from worker.dedupe.dynamodb import DynamoDBDedupeStore

    return DynamoDBDedupeStore(
        settings.dedupe_table,
        region=settings.region,
        key_prefix=settings.dedupe_key_prefix,
        endpoint_url=endpoint_url,
        # One connection per concurrent message, or claims queue behind each other in the pool.
        max_pool_connections=max(10, settings.concurrency),
    )
