"""The producer side of resend-worker: put resend requests on its queue, and read their results.

Needs only the shared contract, pydantic and aiobotocore; nothing of the worker's runtime.
"""

from resend_client.client import (
    BulkOutcome,
    BulkReport,
    EnqueueError,
    EnqueueReceipt,
    ResendClient,
    SyncResendClient,
)

__all__ = [
    "BulkOutcome",
    "BulkReport",
    "EnqueueError",
    "EnqueueReceipt",
    "ResendClient",
    "SyncResendClient",
]
