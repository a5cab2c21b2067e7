"""The DynamoDB dedupe store, shared by every replica with nothing to run.

Table schema (one item per user; :func:`table_spec` returns it as CreateTable arguments)::

    pk             S  HASH key: "<prefix>:dedupe:<sha256 hex>" (no raw username ever)
    status         S  "INPROGRESS" | "SENDING" | "COMPLETED"
    owner          S  opaque token of the claimer
    expires_at_ms  N  integer unix milliseconds: lease end, then window end (what conditions check)
    expires_at     N  integer unix seconds, rounded up from expires_at_ms: the TTL attribute
    lease_expires_at_ms  N  the owner's lease on a SENDING item
    result         S  JSON of the result: provisional on SENDING items, final on COMPLETED ones

CloudFormation: ``DedupeTable`` in ``deploy/cloudformation/resend-worker.yaml``. IAM:
dynamodb:GetItem, PutItem, UpdateItem and DeleteItem on the table (ping is a GetItem).

TTL only keeps the table small: AWS deletes expired items days late and moto never does, so every
condition compares ``expires_at_ms`` with the worker's clock (keep NTP running). The TTL value is
rounded up so TTL can never delete a record that a condition would still call live.

A claim is one conditional PutItem; a lost claim reads the blocking item from the same response
(ReturnValuesOnConditionCheckFailure=ALL_OLD), so there is no window between losing and looking.
The client is opened lazily, under a lock, by the first operation in the running event loop, with
short timeouts and botocore's standard retry mode (safe: every write is idempotent for its owner).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import re
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import ClientError
from resend_contract.aws_errors import describe

from worker.dedupe.base import Claim, DedupeStore, DedupeStoreError, Record, Status

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef

TTL_ATTRIBUTE = "expires_at"

_NAMES = {"#status": "status", "#owner": "owner"}
_ALL_NAMES = {**_NAMES, "#result": "result"}
_STATUS_VALUES = {
    ":in_progress": Status.IN_PROGRESS.value,
    ":sending": Status.SENDING.value,
    ":completed": Status.COMPLETED.value,
}
_PLACEHOLDER = re.compile(r"[:#]\w+")
_OWNED_LIVE = "#status = :in_progress AND #owner = :owner AND expires_at_ms > :now"
_OWNED_SENDING_LEASE = "#status = :sending AND #owner = :owner AND lease_expires_at_ms > :now"
_OWNED_OPEN = (
    "#owner = :owner AND expires_at_ms > :now AND (#status = :in_progress OR #status = :sending)"
)
_CONDITION_FAILED = "ConditionalCheckFailedException"
_PING_KEY = "ping"


def table_spec(table_name: str) -> dict[str, Any]:
    """CreateTable arguments for a dedupe table (then enable TTL on :data:`TTL_ATTRIBUTE`)."""
    return {
        "TableName": table_name,
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }


class DynamoDBDedupeStore(DedupeStore):
    def __init__(
        self,
        table_name: str,
        *,
        region: str,
        key_prefix: str,
        endpoint_url: str | None = None,
        session: AioSession | None = None,
        connect_timeout: float = 1.0,
        read_timeout: float = 2.0,
        max_attempts: int = 2,
        max_pool_connections: int = 10,
    ) -> None:
        self._table = table_name
        self._prefix = f"{key_prefix}:dedupe:"
        self._region = region
        self._endpoint_url = endpoint_url
        self._session = session or AioSession()
        self._config = AioConfig(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            max_pool_connections=max_pool_connections,
        )
        self._client: DynamoDBClient | None = None
        self._exit_stack: contextlib.AsyncExitStack | None = None
        self._lock: asyncio.Lock | None = None

    def partition_key(self, key: str) -> str:
        """The pk of a dedupe key's item."""
        return self._prefix + key

    async def _dynamodb(self) -> DynamoDBClient:
        if self._client is not None:
            return self._client
        # Created here rather than in __init__ so the lock belongs to the running loop.
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is None:
                stack = contextlib.AsyncExitStack()
                # endpoint_url None lets botocore apply AWS_ENDPOINT_URL(_DYNAMODB) itself.
                self._client = await stack.enter_async_context(
                    self._session.create_client(
                        "dynamodb",
                        region_name=self._region,
                        endpoint_url=self._endpoint_url,
                        config=self._config,
                    )
                )
                self._exit_stack = stack
        return self._client

    async def _claim(self, key: str, owner: str, lease_seconds: float) -> Claim:
        client = await self._dynamodb()
        now_ms = _now_ms()
        expires_ms = now_ms + _millis(lease_seconds)
        failed = await _unless_condition_fails(
            client.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": self.partition_key(key)},
                    "status": {"S": Status.IN_PROGRESS.value},
                    "owner": {"S": owner},
                    "expires_at_ms": {"N": str(expires_ms)},
                    TTL_ATTRIBUTE: {"N": str(_ttl(expires_ms))},
                },
                # Free, expired, or already ours (a retried claim that took effect).
                ConditionExpression=(
                    "attribute_not_exists(pk) OR expires_at_ms <= :now"
                    " OR (#status = :in_progress AND #owner = :owner)"
                ),
                ExpressionAttributeNames=_NAMES,
                ExpressionAttributeValues={
                    ":now": {"N": str(now_ms)},
                    ":in_progress": {"S": Status.IN_PROGRESS.value},
                    ":owner": {"S": owner},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        )
        if failed is None:
            return Claim(won=True, existing=None)
        existing = await self._blocking_item(failed, key, now_ms)
        if existing is None:
            # Only if the service returned no item and the record vanished since: rare
            # enough that the caller's usual error handling (retry later) is right.
            raise DedupeStoreError("dedupe store claim lost to a record that vanished")
        return Claim(won=False, existing=existing)

    async def _renew(self, key: str, owner: str, lease_seconds: float) -> bool:
        now_ms = _now_ms()
        expires_ms = now_ms + _millis(lease_seconds)
        update = "SET expires_at_ms = :expires_ms, expires_at = :ttl"
        failed = await self._update(
            key, owner, now_ms, update, _OWNED_LIVE, expires_ms=expires_ms, ttl=_ttl(expires_ms)
        )
        if failed is None:
            return True
        existing = await self._blocking_item(failed, key, now_ms)
        if existing is None or existing.status is not Status.SENDING:
            return False
        update = "SET lease_expires_at_ms = :lease_ms"
        condition = _OWNED_SENDING_LEASE
        return (
            await self._update(key, owner, now_ms, update, condition, lease_ms=expires_ms) is None
        )

    async def _mark_sending(
        self,
        key: str,
        owner: str,
        result_json: str,
        lease_seconds: float,
        window_seconds: float,
    ) -> bool:
        now_ms = _now_ms()
        expires_ms = now_ms + _millis(window_seconds)
        update = (
            "SET #status = :sending, expires_at_ms = :expires_ms, expires_at = :ttl,"
            " lease_expires_at_ms = :lease_ms, #result = :result"
        )
        failed = await self._update(
            key,
            owner,
            now_ms,
            update,
            _OWNED_LIVE,
            expires_ms=expires_ms,
            ttl=_ttl(expires_ms),
            lease_ms=now_ms + _millis(lease_seconds),
            result=result_json,
        )
        # A retried mark whose first attempt took effect finds its own SENDING item.
        return await self._done_before(failed, key, owner, now_ms, Status.SENDING)

    async def _complete(
        self, key: str, owner: str, result_json: str, window_seconds: float
    ) -> bool:
        now_ms = _now_ms()
        expires_ms = now_ms + _millis(window_seconds)
        update = (
            "SET #status = :completed, expires_at_ms = :expires_ms, expires_at = :ttl,"
            " #result = :result REMOVE lease_expires_at_ms"
        )
        failed = await self._update(
            key,
            owner,
            now_ms,
            update,
            _OWNED_OPEN,
            expires_ms=expires_ms,
            ttl=_ttl(expires_ms),
            result=result_json,
        )
        # A retried complete whose first attempt took effect finds its own COMPLETED item.
        return await self._done_before(failed, key, owner, now_ms, Status.COMPLETED)

    async def _update_result(self, key: str, owner: str, result_json: str) -> bool:
        condition = "#status = :completed AND #owner = :owner AND expires_at_ms > :now"
        update = "SET #result = :result"
        failed = await self._update(key, owner, _now_ms(), update, condition, result=result_json)
        return failed is None

    async def _update(
        self,
        key: str,
        owner: str,
        now_ms: int,
        update: str,
        condition: str,
        **values: str | int,
    ) -> ClientError | None:
        """One conditional UpdateItem of a key's item by its owner, judged at ``now_ms``.

        ``values`` fill the ``:name`` placeholders. DynamoDB refuses placeholders that its
        expressions do not use, so the owner, the clock reading and the status names are added
        only where the expressions name them: each write spells out its own values alone.
        """
        client = await self._dynamodb()
        used = set(_PLACEHOLDER.findall(f"{update} {condition}"))
        given: dict[str, str | int] = {":owner": owner, ":now": now_ms, **_STATUS_VALUES}
        given.update((f":{name}", value) for name, value in values.items())
        return await _unless_condition_fails(
            client.update_item(
                TableName=self._table,
                Key={"pk": {"S": self.partition_key(key)}},
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={k: v for k, v in _ALL_NAMES.items() if k in used},
                ExpressionAttributeValues={k: _value(v) for k, v in given.items() if k in used},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        )

    async def _done_before(
        self, failed: ClientError | None, key: str, owner: str, now_ms: int, status: Status
    ) -> bool:
        """A write took effect, now or on an earlier attempt that left the item ``status``."""
        if failed is None:
            return True
        existing = await self._blocking_item(failed, key, now_ms)
        return existing is not None and existing.status is status and existing.owner == owner

    async def _release(self, key: str, owner: str) -> None:
        client = await self._dynamodb()
        await _unless_condition_fails(
            client.delete_item(
                TableName=self._table,
                Key={"pk": {"S": self.partition_key(key)}},
                ConditionExpression="(#status = :in_progress OR #status = :sending)"
                " AND #owner = :owner",
                ExpressionAttributeNames=_NAMES,
                ExpressionAttributeValues={
                    ":in_progress": {"S": Status.IN_PROGRESS.value},
                    ":sending": {"S": Status.SENDING.value},
                    ":owner": {"S": owner},
                },
            )
        )

    async def _get(self, key: str) -> Record | None:
        client = await self._dynamodb()
        response = await client.get_item(
            TableName=self._table,
            Key={"pk": {"S": self.partition_key(key)}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _live_record(key, item, _now_ms()) if item else None

    async def _ping(self) -> None:
        # A read of a key no record uses: proves the endpoint, credentials and table in one call
        # that the worker's IAM policy already allows.
        client = await self._dynamodb()
        await client.get_item(TableName=self._table, Key={"pk": {"S": self._prefix + _PING_KEY}})

    async def _close(self) -> None:
        stack, self._exit_stack = self._exit_stack, None
        self._client = None
        if stack is not None:
            await stack.aclose()

    async def _blocking_item(self, exc: ClientError, key: str, now_ms: int) -> Record | None:
        # Judged by the request's own clock reading: the item that failed a claim's condition
        # was live then, even if it expired during the round trip.
        item = cast("dict[str, Any] | None", exc.response.get("Item"))
        if item:
            return _live_record(key, item, now_ms)
        # Emulators without ReturnValuesOnConditionCheckFailure: read it, consistently.
        return await self._get(key)


async def _unless_condition_fails(write: Awaitable[object]) -> ClientError | None:
    """Make a conditional write: None once it took effect, the error if its condition failed."""
    try:
        await write
    except ClientError as exc:
        if describe(exc).code != _CONDITION_FAILED:
            raise
        return exc
    return None


def _value(value: str | int) -> AttributeValueTypeDef:
    return {"N": str(value)} if isinstance(value, int) else {"S": value}


def _live_record(key: str, item: dict[str, Any], now_ms: int) -> Record | None:
    expires_ms = int(item["expires_at_ms"]["N"])
    if expires_ms <= now_ms:
        return None
    result = item.get("result")
    lease = item.get("lease_expires_at_ms")
    return Record(
        key=key,
        status=Status(item["status"]["S"]),
        owner=item["owner"]["S"],
        expires_at=expires_ms / 1000,
        result=json.loads(result["S"]) if result else None,
        lease_expires_at=int(lease["N"]) / 1000 if lease else None,
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _millis(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _ttl(expires_ms: int) -> int:
    return -(-expires_ms // 1000)
