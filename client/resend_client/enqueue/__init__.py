"""``resend-client enqueue``: the producer side, for operators and scripts.

Kept light on purpose: ``resend-client`` imports ``resend_client.enqueue.cli`` for every
command, so the heavy pieces (botocore's service model, aiobotocore, the table renderer) load
only when used.
"""
