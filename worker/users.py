"""Who a request is about, as Cognito sees it, and keyed digests of that identity.

Cognito's users belong to a user pool, not to an app client: two app clients of one pool address
the same users. A pool compares usernames by its ``UsernameConfiguration.CaseSensitive``: a
case-insensitive pool treats capital and lowercase letters alike and nothing more, so the folding
here is lowercasing (Unicode's default case mapping), not ``str.casefold()``, which also merges
distinct users such as ``straße``/``strasse``, ``\u017fam``/``sam`` (long s) and
``\ufb01ona``/``fiona`` (the fi ligature). A case-sensitive pool folds nothing.

The worker only sees a request's ClientId, so RESEND_USER_POOLS maps app clients to pools. A
ClientId not listed there is taken as a pool of its own with RESEND_DEDUPE_CASE_SENSITIVE (true by
default). Both defaults err towards keeping users apart: a wrong guess then costs at most a second
code for a user spelled two ways (or asked for through two app clients), never a missed code for a
distinct user nor another user's masked destination in a ``duplicate`` result.

Usernames are often emails, and a plain hash of one can be recomputed from a list of emails, so
every digest is an HMAC-SHA256 keyed by RESEND_HASH_KEY (a fixed built-in key when unset, which
keeps digests stable but not secret). Dedupe keys and log pseudonyms use separate purposes under
that key, so neither can be computed from the other.

The directory in use is a context variable set by the worker at start: log pseudonyms are computed
wherever a line is logged, and worker instances in one process (tests) keep their own.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from worker.settings import Settings

# Used when RESEND_HASH_KEY is unset: digests stay stable across replicas and restarts.
BUILT_IN_HASH_KEY = b"resend-worker built-in hash key: set RESEND_HASH_KEY"
PSEUDONYM_LENGTH = 16
DEDUPE_PURPOSE = "dedupe"
LOG_PURPOSE = "log"
_encode = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True)
class Pool:
    """A user pool as far as usernames go: its id and whether it compares them exactly."""

    pool_id: str
    case_sensitive: bool


def fold(username: str, case_sensitive: bool) -> str:
    """The username as the pool compares it: exact, or lowercased for a case-insensitive pool."""
    return username if case_sensitive else username.lower()


@dataclass(frozen=True)
class UserDirectory:
    """ClientId -> user pool, the default for unlisted ClientIds, and the HMAC key."""

    pools: Mapping[str, Pool] = field(default_factory=dict)
    default_case_sensitive: bool = True
    hash_key: bytes = field(default=BUILT_IN_HASH_KEY, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> UserDirectory:
        pools = {
            client_id: Pool(pool_id, pool.case_sensitive)
            for pool_id, pool in settings.user_pools.items()
            for client_id in pool.client_ids
        }
        key = settings.hash_key.get_secret_value().encode() if settings.hash_key else None
        return cls(pools, settings.dedupe_case_sensitive, key or BUILT_IN_HASH_KEY)

    @property
    def uses_built_in_key(self) -> bool:
        return hmac.compare_digest(self.hash_key, BUILT_IN_HASH_KEY)

    def identity(self, client_id: str, username: str) -> tuple[str, str, str]:
        """(kind, scope, folded username): the same triple exactly when Cognito sees one user.

        The kind keeps a pool id and a ClientId that happen to be equal strings apart.
        """
        pool = self.pools.get(client_id)
        if pool is None:
            return ("client", client_id, fold(username, self.default_case_sensitive))
        return ("pool", pool.pool_id, fold(username, pool.case_sensitive))

    def digest(self, purpose: str, client_id: str, username: str) -> str:
        """Hex HMAC-SHA256 of the purpose and the identity.

        JSON-encoded so no separator can make two identities collide; ASCII-escaped so any
        string (even one with a lone surrogate, which UTF-8 cannot encode) has a digest.
        """
        message = _encode([purpose, *self.identity(client_id, username)]).encode("ascii")
        return hmac.digest(self.hash_key, message, "sha256").hex()

    def dedupe_key(self, client_id: str, username: str) -> str:
        return self.digest(DEDUPE_PURPOSE, client_id, username)

    def pseudonym(self, client_id: str | None, username: str) -> str:
        return self.digest(LOG_PURPOSE, client_id or "", username)[:PSEUDONYM_LENGTH]


BUILT_IN = UserDirectory()
_current: ContextVar[UserDirectory | None] = ContextVar("resend_user_directory", default=None)


def current() -> UserDirectory:
    """The directory of the worker running in this context (the built-in one outside a worker)."""
    return _current.get() or BUILT_IN


@contextmanager
def using(directory: UserDirectory) -> Iterator[UserDirectory]:
    """Make ``directory`` current for this context and the tasks started from it."""
    token = _current.set(directory)
    try:
        yield directory
    finally:
        _current.reset(token)
