"""The SNS side: one result message per request, published in batches.

Subscribers filter on the ``outcome`` and ``error_code`` message attributes; trace headers that
arrived with the request travel on with its result (only those ``worker.intake`` let through).
Every entry fits ``MAX_RESULT_BYTES`` by construction: SNS caps a whole PublishBatch at 256 KiB,
so one oversized entry would fail the batch of other requests' results with it. On a FIFO topic
the group is a keyed hash of the user (usernames are often email addresses), so one user's
results stay in order; the deduplication id makes a republished result harmless within SNS's
window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from resend_contract.models import ErrorInfo, Result

from worker import metrics, users
from worker.batching import Batcher, entry_outcomes
from worker.retry import with_plumbing_retries

_PUBLISHES = metrics.Children(metrics.sns_publish)

if TYPE_CHECKING:
    from types_aiobotocore_sns import SNSClient
    from types_aiobotocore_sns.type_defs import PublishBatchRequestEntryTypeDef

# Ten of these fit one PublishBatch (256 KiB) with room to spare.
MAX_RESULT_BYTES = 16 * 1024
_SHRUNK_MESSAGE_CHARS = 256


def entry_bytes(entry: dict[str, Any]) -> int:
    """What SNS counts: the message and each attribute's name, type and value."""
    size = len(entry["Message"].encode())
    for name, attribute in entry.get("MessageAttributes", {}).items():
        size += len(name.encode()) + len(attribute["DataType"]) + len(attribute["StringValue"])
    return size


def shrunk(result: Result) -> Result:
    """The same answer with only what is needed to match and act on it.

    Never reached with the contract's bounds in place; kept so a future field cannot make a
    result unpublishable.
    """
    error = result.Error
    if error is not None:
        error = ErrorInfo(
            Code=error.Code,
            Message=error.Message[:_SHRUNK_MESSAGE_CHARS],
            Reason=error.Reason,
        )
    return result.model_copy(update={"CodeDeliveryDetails": None, "Error": error})


RESULT_GROUP_PURPOSE = "result_group"


def user_group_id(client_id: str | None, username: str | None) -> str:
    """Keyed (RESEND_HASH_KEY), like every other username hash: MessageGroupId is visible to
    every subscriber, and a plain hash of a username is reversed with a list of emails."""
    return users.current().digest(RESULT_GROUP_PURPOSE, client_id or "", username or "")


class ResultPublisher:
    def __init__(self, sns: SNSClient, topic_arn: str) -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self._fifo = topic_arn.endswith(".fifo")
        self._batcher: Batcher[dict[str, Any], None] = Batcher(self._publish_batch)

    async def publish(self, result: Result, trace: dict[str, str]) -> None:
        entry = self._entry(result, trace)
        try:
            await with_plumbing_retries(lambda: self._batcher.submit(entry))
        except Exception:
            _PUBLISHES("error").inc()
            raise
        _PUBLISHES("ok").inc()

    def _entry(self, result: Result, trace: dict[str, str]) -> dict[str, Any]:
        attributes = {"outcome": {"DataType": "String", "StringValue": result.Outcome.value}}
        if result.Error is not None:
            attributes["error_code"] = {"DataType": "String", "StringValue": result.Error.Code}
        for name, value in trace.items():
            if value:
                attributes[name] = {"DataType": "String", "StringValue": value}
        entry: dict[str, Any] = {"Message": result.to_json(), "MessageAttributes": attributes}
        if entry_bytes(entry) > MAX_RESULT_BYTES:
            entry["Message"] = shrunk(result).to_json()
            for name in trace:
                attributes.pop(name, None)
        if self._fifo:
            entry["MessageGroupId"] = user_group_id(result.ClientId, result.Username)
            entry["MessageDeduplicationId"] = hashlib.sha256(
                f"{result.MessageId}\n{result.Outcome.value}".encode()
            ).hexdigest()
        return entry

    async def _publish_batch(self, entries: Sequence[dict[str, Any]]) -> list[BaseException | None]:
        response = await self._sns.publish_batch(
            TopicArn=self._topic_arn,
            PublishBatchRequestEntries=[
                cast("PublishBatchRequestEntryTypeDef", {"Id": str(i), **e})
                for i, e in enumerate(entries)
            ],
        )
        return entry_outcomes(response, len(entries))

    async def topic_attributes(self) -> dict[str, str]:
        response = await self._sns.get_topic_attributes(TopicArn=self._topic_arn)
        return dict(response.get("Attributes", {}))

    async def drain(self) -> None:
        await self._batcher.drain()
