"""The Redis dedupe store, shared by every replica.

One string key per user, ``<prefix>:dedupe:<key>``, holding the record as JSON::

    {"status": "INPROGRESS", "owner": "...", "expires_at": 1732612345.123456, "result": null}
    {"status": "SENDING", "owner": "...", "expires_at": ..., "lease_expires_at": ..., "result": {}}

Its PX expiry matches the record: the lease while INPROGRESS, the window once SENDING or COMPLETED,
so Redis itself drops dead records. Every operation is one Lua script, which makes check-and-write
atomic without WATCH round trips. The scripts read the clock with Redis's TIME, so all replicas
judge expiry by one clock however far theirs drift; ``expires_at`` is therefore Redis server time.
The scripts never re-encode a stored result (Lua's cjson would round numbers to 14 digits): they
splice the JSON the worker serialised.

The client connects lazily on the first operation (redis-py opens pooled connections on demand),
with short socket timeouts and one quick retry of connection errors and timeouts; retrying is
safe because every script is idempotent for its owner.
"""

from __future__ import annotations

import json
import math
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from worker.dedupe.base import Claim, DedupeStore, Record, Status

# Shared by the scripts: the server clock in seconds, and how a record is written.
_PRELUDE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local owner = ARGV[1]
local function in_progress(expires_at)
  return '{"status":"INPROGRESS","owner":' .. cjson.encode(owner)
    .. ',"expires_at":' .. string.format('%.6f', expires_at) .. ',"result":null}'
end
local function load()
  local raw = redis.call('GET', KEYS[1])
  if not raw then return nil, nil end
  local record = cjson.decode(raw)
  if tonumber(record.expires_at) <= now then return nil, nil end
  return record, raw
end
"""

# ARGV: owner, lease_ms. Returns {1, new record} or {0, the live record that blocked}.
_CLAIM = (
    _PRELUDE
    + """
local lease_ms = tonumber(ARGV[2])
local record, raw = load()
if record and not (record.status == 'INPROGRESS' and record.owner == owner) then
  return {0, raw}
end
local value = in_progress(now + lease_ms / 1000)
redis.call('SET', KEYS[1], value, 'PX', lease_ms)
return {1, value}
"""
)

# The result as stored, spliced back without re-encoding. The first ',"result":' is the real one:
# inside the owner string cjson escapes every quote.
_SENDING = """
local function sending(expires_at, lease_expires_at, result_json)
  return '{"status":"SENDING","owner":' .. cjson.encode(owner)
    .. ',"expires_at":' .. string.format('%.6f', expires_at)
    .. ',"lease_expires_at":' .. string.format('%.6f', lease_expires_at)
    .. ',"result":' .. result_json .. '}'
end
local function stored_result(raw)
  local at = string.find(raw, ',"result":', 1, true)
  return string.sub(raw, at + 10, -2)
end
"""

# ARGV: owner, lease_ms. Returns 1 if renewed. A SENDING record keeps its window (KEEPTTL).
_RENEW = (
    _PRELUDE
    + _SENDING
    + """
local lease_ms = tonumber(ARGV[2])
local record, raw = load()
if not record or record.owner ~= owner then return 0 end
if record.status == 'SENDING' then
  if tonumber(record.lease_expires_at) <= now then return 0 end
  local value = sending(tonumber(record.expires_at), now + lease_ms / 1000, stored_result(raw))
  redis.call('SET', KEYS[1], value, 'KEEPTTL')
  return 1
end
if record.status ~= 'INPROGRESS' then return 0 end
redis.call('SET', KEYS[1], in_progress(now + lease_ms / 1000), 'PX', lease_ms)
return 1
"""
)

# ARGV: owner, lease_ms, window_ms, result JSON. Returns 1 if marked (now or earlier).
_MARK_SENDING = (
    _PRELUDE
    + _SENDING
    + """
local lease_ms = tonumber(ARGV[2])
local window_ms = tonumber(ARGV[3])
local record = load()
if not record or record.owner ~= owner then return 0 end
if record.status == 'SENDING' then return 1 end
if record.status ~= 'INPROGRESS' then return 0 end
local value = sending(now + window_ms / 1000, now + lease_ms / 1000, ARGV[4])
redis.call('SET', KEYS[1], value, 'PX', window_ms)
return 1
"""
)

# ARGV: owner, window_ms, result JSON. Returns 1 if completed (now or by an earlier attempt).
_COMPLETE = (
    _PRELUDE
    + """
local window_ms = tonumber(ARGV[2])
local record = load()
if not record or record.owner ~= owner then return 0 end
if record.status == 'COMPLETED' then return 1 end
if record.status ~= 'INPROGRESS' and record.status ~= 'SENDING' then return 0 end
local value = '{"status":"COMPLETED","owner":' .. cjson.encode(owner)
  .. ',"expires_at":' .. string.format('%.6f', now + window_ms / 1000)
  .. ',"result":' .. ARGV[3] .. '}'
redis.call('SET', KEYS[1], value, 'PX', window_ms)
return 1
"""
)

# ARGV: owner, result JSON. Replaces the owner's COMPLETED result; the expiry stays.
_UPDATE_RESULT = (
    _PRELUDE
    + """
local record = load()
if not record or record.owner ~= owner or record.status ~= 'COMPLETED' then return 0 end
local value = '{"status":"COMPLETED","owner":' .. cjson.encode(owner)
  .. ',"expires_at":' .. string.format('%.6f', record.expires_at)
  .. ',"result":' .. ARGV[2] .. '}'
redis.call('SET', KEYS[1], value, 'KEEPTTL')
return 1
"""
)

# Returns the live record or nil: judged by expires_at, not only by the key's PX expiry.
_GET = (
    _PRELUDE
    + """
local _, raw = load()
return raw
"""
)

# ARGV: owner. Deletes the owner's INPROGRESS or SENDING record, live or not.
_RELEASE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local record = cjson.decode(raw)
if (record.status == 'INPROGRESS' or record.status == 'SENDING') and record.owner == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisDedupeStore(DedupeStore):
    def __init__(
        self,
        url: str,
        *,
        key_prefix: str,
        connect_timeout: float = 1.0,
        socket_timeout: float = 1.0,
    ) -> None:
        self._url = url
        self._prefix = f"{key_prefix}:dedupe:"
        self._connect_timeout = connect_timeout
        self._socket_timeout = socket_timeout
        self._client: aioredis.Redis | None = None

    def redis_key(self, key: str) -> str:
        """The Redis key holding a dedupe key's record."""
        return self._prefix + key

    def _redis(self) -> aioredis.Redis:
        # Building the client does no I/O and binds no event loop, so creating it on first use
        # needs no lock; connections are opened by the pool inside the running loop.
        if self._client is None:
            self._client = aioredis.Redis.from_url(
                self._url,
                socket_connect_timeout=self._connect_timeout,
                socket_timeout=self._socket_timeout,
                retry=Retry(ExponentialWithJitterBackoff(cap=0.2, base=0.05), 1),
                decode_responses=True,
                health_check_interval=30,
            )
        return self._client

    async def _run(self, script: str, key: str, *args: str | int) -> Any:
        # EVAL rather than EVALSHA: the scripts are small, and a restarted or failed-over Redis
        # never answers NOSCRIPT.
        return await self._redis().eval(script, 1, self.redis_key(key), *args)

    async def _claim(self, key: str, owner: str, lease_seconds: float) -> Claim:
        won, value = await self._run(_CLAIM, key, owner, _millis(lease_seconds))
        if int(won) == 1:
            return Claim(won=True, existing=None)
        return Claim(won=False, existing=_record(key, value))

    async def _renew(self, key: str, owner: str, lease_seconds: float) -> bool:
        return int(await self._run(_RENEW, key, owner, _millis(lease_seconds))) == 1

    async def _mark_sending(
        self,
        key: str,
        owner: str,
        result_json: str,
        lease_seconds: float,
        window_seconds: float,
    ) -> bool:
        marked = await self._run(
            _MARK_SENDING, key, owner, _millis(lease_seconds), _millis(window_seconds), result_json
        )
        return int(marked) == 1

    async def _complete(
        self, key: str, owner: str, result_json: str, window_seconds: float
    ) -> bool:
        done = await self._run(_COMPLETE, key, owner, _millis(window_seconds), result_json)
        return int(done) == 1

    async def _update_result(self, key: str, owner: str, result_json: str) -> bool:
        return int(await self._run(_UPDATE_RESULT, key, owner, result_json)) == 1

    async def _release(self, key: str, owner: str) -> None:
        await self._run(_RELEASE, key, owner)

    async def _get(self, key: str) -> Record | None:
        value = await self._run(_GET, key)
        return None if value is None else _record(key, value)

    async def _ping(self) -> None:
        await self._redis().ping()

    async def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


def _millis(seconds: float) -> int:
    # Rounded up so the key never vanishes before the record's expires_at.
    return max(1, math.ceil(seconds * 1000))


def _record(key: str, document: str) -> Record:
    data = json.loads(document)
    lease = data.get("lease_expires_at")
    return Record(
        key=key,
        status=Status(data["status"]),
        owner=str(data["owner"]),
        expires_at=float(data["expires_at"]),
        result=data["result"],
        lease_expires_at=None if lease is None else float(lease),
    )
