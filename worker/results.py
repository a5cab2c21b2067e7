"""The SNS side: one result message per request, published in batches.

Subscribers filter on the ``outcome`` and ``error_code`` message attributes; trace headers that
arrived with the request travel on with its result. On a FIFO topic the group is derived from
ClientId and Username (hashed: usernames are often email addresses), so one user's results stay
in order; the deduplication id makes a republished result harmless within SNS's window.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from resend_contract.models import Result

from worker import metrics
from worker.batching import Batcher, entry_outcomes
from worker.retry import with_plumbing_retries

if TYPE_CHECKING:
    from types_aiobotocore_sns import SNSClient
    from types_aiobotocore_sns.type_defs import PublishBatchRequestEntryTypeDef


def user_group_id(client_id: str | None, username: str | None) -> str:
    return hashlib.sha256(f"{client_id or ''}\n{username or ''}".encode()).hexdigest()[:64]


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
            metrics.sns_publish.labels("error").inc()
            raise
        metrics.sns_publish.labels("ok").inc()

    def _entry(self, result: Result, trace: dict[str, str]) -> dict[str, Any]:
        attributes = {"outcome": {"DataType": "String", "StringValue": result.Outcome.value}}
        if result.Error is not None:
            attributes["error_code"] = {"DataType": "String", "StringValue": result.Error.Code}
        for name, value in trace.items():
            if value:
                attributes[name] = {"DataType": "String", "StringValue": value}
        entry: dict[str, Any] = {"Message": result.to_json(), "MessageAttributes": attributes}
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
