"""The producer side of resend-worker: put resend requests on its queue, and read their results.

Needs only the shared contract, pydantic and aiobotocore; nothing of the worker's runtime. The
names load on first use, so ``resend-client --help`` does not pay for the SDK.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("resend_client.client"), name)
    raise AttributeError(f"module 'resend_client' has no attribute {name!r}")
