"""SECRET_HASH for app clients that have a client secret.

Cognito checks ``Base64(HMAC-SHA256(key=client secret, msg=Username + ClientId))`` and answers
NotAuthorizedException when it is missing or wrong. The hash must be computed over exactly the
Username string that is sent (same case, same alias), so the caller passes that string verbatim.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def secret_hash(client_secret: str, username: str, client_id: str) -> str:
    digest = hmac.new(
        client_secret.encode("utf-8"), (username + client_id).encode("utf-8"), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode("ascii")
