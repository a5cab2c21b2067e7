"""``resend-worker enqueue``: the producer side, for operators and scripts.

Kept light on purpose: the project CLI imports ``worker.enqueue.cli`` for every command, so the
heavy pieces (botocore's service model, aiobotocore, the table renderer) load only when used.
"""
