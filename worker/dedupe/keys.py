"""Dedupe keys: one per Cognito user (user pool + username as the pool compares it), no username.

Usernames are often email addresses or phone numbers, and keys end up in Redis and DynamoDB where
operators browse them, so the key is an HMAC-SHA256 digest keyed by RESEND_HASH_KEY. Which app
clients share a pool and how a pool folds case is ``worker.users``' business.
"""

from __future__ import annotations

from worker import users


def dedupe_key(client_id: str, username: str) -> str:
    """The hex key of the user this (ClientId, Username) addresses, under the running worker's
    user directory: equal for two app clients of one pool, and for ``Jane``/``jane`` in a
    case-insensitive pool; distinct for ``straße``/``strasse`` in any pool."""
    return users.current().dedupe_key(client_id, username)
