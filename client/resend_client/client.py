"""The client's public names in one place, for ``from resend_client.client import ...``.

Each job lives in a module of its own (entries, the batch call and its retries, bulk sending,
results, the lanes, the async and sync clients); this module only gathers them, so code written
against the single-module client keeps working.
"""

from __future__ import annotations

from resend_client.async_client import DEFAULT_CONCURRENCY, ResendClient
from resend_client.batch import (
    DEFAULT_MAX_ATTEMPTS,
    SQS_BATCH_MAX_BYTES,
    SQS_BATCH_MAX_ENTRIES,
)
from resend_client.bulk_send import Requests
from resend_client.connection import SQS_MAX_WAIT_SECONDS, region_from_queue_url
from resend_client.errors import EnqueueError
from resend_client.lanes import Priority, lane_queue_url
from resend_client.receipts import BulkOutcome, BulkProblem, BulkReport, EnqueueReceipt
from resend_client.request_entries import (
    SQS_MAX_DELAY_SECONDS,
    build_request,
    new_request_id,
    user_group_id,
    valid_fifo_id,
)
from resend_client.results import FoundResult, parse_result
from resend_client.sync_client import SyncResendClient

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_ATTEMPTS",
    "SQS_BATCH_MAX_BYTES",
    "SQS_BATCH_MAX_ENTRIES",
    "SQS_MAX_DELAY_SECONDS",
    "SQS_MAX_WAIT_SECONDS",
    "BulkOutcome",
    "BulkProblem",
    "BulkReport",
    "EnqueueError",
    "EnqueueReceipt",
    "FoundResult",
    "Priority",
    "Requests",
    "ResendClient",
    "SyncResendClient",
    "build_request",
    "lane_queue_url",
    "new_request_id",
    "parse_result",
    "region_from_queue_url",
    "user_group_id",
    "valid_fifo_id",
]
