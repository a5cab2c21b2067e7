"""Dedupe keys: one per (app client, user), with no username in them.

Usernames are often email addresses or phone numbers, and keys end up in Redis and DynamoDB
where operators browse them, so the key is a SHA-256 digest. The pair is JSON-encoded before
hashing so no choice of separator can make ("ab", "c") and ("a", "bc") collide.
"""

from __future__ import annotations

import hashlib
import json


def dedupe_key(client_id: str, username: str, case_sensitive: bool) -> str:
    """Hex SHA-256 of the (client id, username) pair, the username casefolded unless told not to.

    Casefolding (not lowercasing) follows Cognito's case-insensitive usernames, where
    "STRASSE@example.com" and "straße@example.com" may be the same person: one code each is enough.
    """
    name = username if case_sensitive else username.casefold()
    encoded = json.dumps([client_id, name], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()
