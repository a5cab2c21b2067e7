"""Every setting of the worker, in one place.

All settings come from the environment (prefix ``RESEND_``), so the same image runs on ECS and
Kubernetes with nothing but configuration. Validation happens here, before any AWS call, so a
bad deployment fails at start with one readable line per problem instead of at the first message.
"""

from __future__ import annotations

import json
import math
import os
import re
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictBool,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from resend_contract import validation

from worker.lanes import Lane

REGION_VARIABLES = ("RESEND_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")
# SQS refuses visibility timeouts above 12 hours.
SQS_MAX_VISIBILITY_SECONDS = 43_200
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
# Cognito's ClientId pattern, [\w+]+, and its length limit.
CLIENT_ID = re.compile(r"[\w+]{1,128}", re.ASCII)
# Shortest RESEND_HASH_KEY accepted: a short key can be guessed along with a list of emails.
HASH_KEY_MIN_LENGTH = 16
# The memory dedupe bound when RESEND_DEDUPE_MAX_ENTRIES is unset: the records one replica can
# make in a window (one per call, at RESEND_COGNITO_MAX_RPS at most), twice over for the claims
# released without a call and for bursts, never under the floor, never over the maximum.
DEDUPE_ENTRIES_HEADROOM = 2
DEDUPE_ENTRIES_FLOOR = 1_000
DEDUPE_ENTRIES_MAX = 10_000_000

# Cognito's patterns (botocore's model) for a user pool id and an app client id.
UserPoolId = Annotated[str, StringConstraints(pattern=r"^[\w-]+_[0-9a-zA-Z]+$", max_length=55)]
ClientId = Annotated[str, StringConstraints(pattern=r"^[\w+]+$", min_length=1, max_length=128)]


class DedupeBackend(StrEnum):
    MEMORY = "memory"
    REDIS = "redis"
    DYNAMODB = "dynamodb"
    OFF = "off"


class LogFormat(StrEnum):
    AUTO = "auto"
    JSON = "json"
    CONSOLE = "console"


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class UserPoolSetting(BaseModel):
    """One user pool in RESEND_USER_POOLS: its app clients and how it compares usernames.

    ``CaseSensitive`` is the pool's ``UsernameConfiguration.CaseSensitive`` (``aws cognito-idp
    describe-user-pool``); a pool without a UsernameConfiguration is case-sensitive.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    case_sensitive: StrictBool = Field(alias="CaseSensitive")
    client_ids: tuple[ClientId, ...] = Field(alias="ClientIds", min_length=1)


class Settings(BaseSettings):
    """The worker's configuration; see the settings table in the README."""

    model_config = SettingsConfigDict(
        env_prefix="RESEND_",
        extra="ignore",
        case_sensitive=False,
        frozen=True,
        populate_by_name=True,
        # Some settings are secrets (client secrets, Redis passwords, the hash key): an error
        # names the setting and the problem, never the value it was given.
        hide_input_in_errors=True,
    )

    # Where requests come from and results go.
    queue_url: str = Field(min_length=1)
    result_topic_arn: str = Field(pattern=r"^arn:aws[\w-]*:sns:[\w-]+:\d{12}:[\w-]+(\.fifo)?$")
    dead_letter_queue_url: str | None = None
    # The dead-letter queue's MaximumMessageSize (the worker's role may not read it): a copy,
    # body and attributes, never exceeds it. 256 KiB suits any queue; raise it for a 1 MiB one.
    dead_letter_max_message_bytes: int = Field(default=262_144, ge=1024, le=1_048_576)
    # The bulk lane (campaigns, migrations, replays); queue_url is the interactive lane. Unset:
    # one lane. Both lanes share the rate limiter, the dedupe store, the topic and the DLQ.
    bulk_queue_url: str | None = None
    # Bulk's minimum share of the tokens while interactive requests would take them all.
    bulk_min_share: float = Field(default=0.1, gt=0, le=0.5)
    # Bulk messages are received only as many as can start within this many seconds, so the
    # rest of a backlog stays visible in SQS for other replicas.
    bulk_horizon_seconds: float = Field(default=2.0, gt=0, le=60)

    # AWS location. AWS_REGION is the standard variable; RESEND_REGION wins when set.
    region: str = Field(
        default="us-east-1",
        validation_alias=AliasChoices(*REGION_VARIABLES),
        pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$",
    )
    cognito_region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")

    # Consumption.
    concurrency: int = Field(default=32, ge=1, le=1000)
    receive_wait_seconds: int = Field(default=20, ge=0, le=20)
    visibility_timeout_seconds: int = Field(default=60, ge=10, le=SQS_MAX_VISIBILITY_SECONDS)
    shutdown_timeout_seconds: float = Field(default=25.0, gt=0, le=600)

    # The Cognito call.
    cognito_connect_timeout_seconds: float = Field(default=2.0, gt=0, le=60)
    # Longer than the 5 s a CustomMessage Lambda trigger may take: a read timeout is an unknown
    # outcome (a code probably sent, never retried), so it must be rare.
    cognito_read_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    cognito_max_rps: float = Field(default=10.0, gt=0, le=10_000)
    expected_replicas: int = Field(default=1, ge=1, le=1000)
    # Redis URLs may carry a password (redis://:password@host): secrets that never print.
    rate_limit_redis_url: SecretStr | None = None

    # Retry budget: in-process retries, then deferrals across deliveries.
    retry_max_attempts: int = Field(default=4, ge=1, le=20)
    retry_max_seconds: float = Field(default=15.0, gt=0, le=300)
    max_attempts: int = Field(default=8, ge=1, le=1000)
    max_message_age_seconds: int = Field(default=86_400, ge=60, le=14 * 86_400)
    defer_max_seconds: int = Field(
        default=SQS_MAX_VISIBILITY_SECONDS, ge=1, le=SQS_MAX_VISIBILITY_SECONDS
    )
    # How often the queue's redrive policy (maxReceiveCount) is read again after start.
    redrive_refresh_seconds: int = Field(default=300, ge=10, le=86_400)

    # Messages this replica answered, by SQS message id: a redelivery (a lost delete, a failed
    # dead-letter copy) is settled without a second result.
    answered_window_seconds: int = Field(default=4 * 3600, ge=60, le=14 * 86_400)
    answered_max_entries: int = Field(default=100_000, ge=100, le=10_000_000)

    # Client secrets for SECRET_HASH, in order of precedence.
    client_secrets: Annotated[dict[str, SecretStr] | None, NoDecode] = None
    client_secrets_file: Path | None = None
    client_secrets_secret_id: str | None = None
    client_secrets_refresh_seconds: int = Field(default=300, ge=10, le=86_400)

    # Deduplication.
    dedupe_backend: DedupeBackend = DedupeBackend.MEMORY
    dedupe_window_seconds: int = Field(default=300, ge=1, le=86_400)
    # Which app clients share users (one pool), and how each pool compares usernames. ClientIds
    # not listed are a pool of their own, compared per RESEND_DEDUPE_CASE_SENSITIVE.
    user_pools: Annotated[dict[UserPoolId, UserPoolSetting], NoDecode] = Field(default_factory=dict)
    dedupe_case_sensitive: bool = True
    dedupe_fail_open: bool = False
    # Unset: derived from the rate and the window (``dedupe_bound``).
    dedupe_max_entries: int | None = Field(default=None, ge=100, le=DEDUPE_ENTRIES_MAX)
    dedupe_key_prefix: str = Field(default="resend-worker", min_length=1, max_length=64)
    redis_url: SecretStr | None = None
    dedupe_table: str | None = None

    # Observability.
    metrics_host: str = "0.0.0.0"
    metrics_port: int = Field(default=9102, ge=0, le=65535)
    log_level: LogLevel = LogLevel.INFO
    log_format: LogFormat = LogFormat.AUTO
    log_usernames: bool = False
    # Key of the HMAC that turns usernames into log pseudonyms and dedupe keys. Unset, a fixed
    # key is used, and anyone holding a list of emails could recompute the pseudonyms.
    hash_key: SecretStr | None = None

    @field_validator("hash_key")
    @classmethod
    def _hash_key_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < HASH_KEY_MIN_LENGTH:
            raise ValueError(f"must be at least {HASH_KEY_MIN_LENGTH} characters")
        return value

    @field_validator("user_pools", mode="before")
    @classmethod
    def _parse_user_pools(cls, value: Any) -> Any:
        if value is None or value == "":
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"is not valid JSON (line {exc.lineno} column {exc.colno})"
                ) from None
        if not isinstance(value, dict):
            raise ValueError(
                'must be a JSON object: {"<user pool id>": {"CaseSensitive": <bool>, '
                '"ClientIds": ["<app client id>", ...]}}'
            )
        return value

    @field_validator("user_pools")
    @classmethod
    def _one_pool_per_client(cls, value: dict[str, UserPoolSetting]) -> dict[str, UserPoolSetting]:
        seen: dict[str, int] = {}
        for position, pool in enumerate(value.values(), start=1):
            for client_id in pool.client_ids:
                if seen.setdefault(client_id, position) != position:
                    # Positions, not values: a settings error never repeats what was set.
                    raise ValueError(
                        f"an app client is listed under pool {seen[client_id]} and pool "
                        f"{position}; an app client belongs to one user pool"
                    )
        return value

    @field_validator("client_secrets", mode="before")
    @classmethod
    def _parse_client_secrets(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            return parse_client_secrets_json(value)
        return parse_client_secrets_object(value)

    @field_validator("redis_url", "rate_limit_redis_url")
    @classmethod
    def _redis_scheme(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        if not value.get_secret_value().startswith(REDIS_SCHEMES):
            # Never echo the URL: it may hold a password.
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("dedupe_max_entries", "bulk_queue_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _backend_needs_its_store(self) -> Settings:
        if self.dedupe_backend is DedupeBackend.REDIS and not self.redis_url:
            raise ValueError("RESEND_DEDUPE_BACKEND=redis needs RESEND_REDIS_URL")
        if self.dedupe_backend is DedupeBackend.DYNAMODB and not self.dedupe_table:
            raise ValueError("RESEND_DEDUPE_BACKEND=dynamodb needs RESEND_DEDUPE_TABLE")
        for position, pool_id in enumerate(self.user_pools, start=1):
            if pool_id.partition("_")[0] != self.user_pool_region:
                # The worker calls one region; a pool elsewhere would answer ResourceNotFound.
                raise ValueError(
                    f"RESEND_USER_POOLS: pool {position} is not in the user pools' region "
                    "(RESEND_COGNITO_REGION, else AWS_REGION)"
                )
        call_seconds = self.cognito_connect_timeout_seconds + self.cognito_read_timeout_seconds
        if self.shutdown_timeout_seconds < call_seconds:
            # A call under way is waited for, never cancelled: the timeout must cover one.
            raise ValueError(
                "RESEND_SHUTDOWN_TIMEOUT_SECONDS must be at least RESEND_COGNITO_CONNECT_TIMEOUT"
                "_SECONDS + RESEND_COGNITO_READ_TIMEOUT_SECONDS (one Cognito call)"
            )
        if self.retry_max_seconds >= self.visibility_timeout_seconds / 2:
            raise ValueError(
                "RESEND_RETRY_MAX_SECONDS must be under half of RESEND_VISIBILITY_TIMEOUT_SECONDS"
            )
        if self.bulk_queue_url is not None and self.bulk_queue_url == self.queue_url:
            raise ValueError("RESEND_BULK_QUEUE_URL must not be RESEND_QUEUE_URL")
        if self.bulk_horizon_seconds >= self.visibility_timeout_seconds / 2:
            raise ValueError(
                "RESEND_BULK_HORIZON_SECONDS must be under half of "
                "RESEND_VISIBILITY_TIMEOUT_SECONDS"
            )
        return self

    @property
    def is_fifo_queue(self) -> bool:
        return self.queue_url.endswith(".fifo")

    @property
    def lanes(self) -> dict[Lane, str]:
        """Each configured lane's queue URL, interactive first."""
        lanes = {Lane.INTERACTIVE: self.queue_url}
        if self.bulk_queue_url is not None:
            lanes[Lane.BULK] = self.bulk_queue_url
        return lanes

    @property
    def user_pool_region(self) -> str:
        return self.cognito_region or self.region

    @property
    def dedupe_bound(self) -> int:
        """How many records the memory store and the recent sends hold at most.

        A fixed default is wrong both ways: at 10 calls a second a 300 s window needs 3,000
        records, while a fixed 100,000 let a fast worker hold 100 MB of them; at 1,000 calls a
        second it would evict records still inside their window, and send second codes.
        """
        if self.dedupe_max_entries is not None:
            return self.dedupe_max_entries
        needed = math.ceil(
            self.cognito_max_rps * self.dedupe_window_seconds * DEDUPE_ENTRIES_HEADROOM
        )
        return min(DEDUPE_ENTRIES_MAX, max(DEDUPE_ENTRIES_FLOOR, needed))


def parse_client_secrets_json(text: str) -> dict[str, SecretStr]:
    """Parse the ClientId -> secret JSON; every error names the problem, never the text.

    Numbers are never valid here, so they are not converted at all (a 100,000-digit integer
    would cost quadratic time, or trip Python's digit limit), and nesting too deep for the
    parser is an error like any other.
    """
    if not text.strip():
        raise ValueError("is empty")
    try:
        document = json.loads(
            text, parse_int=_not_a_string, parse_float=_not_a_string, parse_constant=_not_a_string
        )
    except json.JSONDecodeError as exc:
        # Never echo the value: it holds secrets.
        raise ValueError(f"is not valid JSON (line {exc.lineno} column {exc.colno})") from None
    except RecursionError:
        raise ValueError("is not valid JSON (nested too deeply)") from None
    return parse_client_secrets_object(document)


_NUMBER = object()


def _not_a_string(_: str) -> object:
    """Stands in for a JSON number or constant: never a valid secret, so never converted."""
    return _NUMBER


def parse_client_secrets_object(value: Any) -> dict[str, SecretStr]:
    """Check a ClientId -> secret mapping without ever putting a secret in an error.

    Entries are named by position, not by key: a file written the wrong way round has secrets
    for keys, and an error line must not carry one.
    """
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object of ClientId to client secret")
    secrets: dict[str, SecretStr] = {}
    for position, (client_id, secret) in enumerate(value.items(), start=1):
        if not isinstance(client_id, str) or not CLIENT_ID.fullmatch(client_id):
            raise ValueError(f"the key of entry {position} is not an app client id")
        text = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        if not isinstance(text, str) or not text or not _is_utf8(text):
            raise ValueError(f"the secret of entry {position} must be a non-empty string")
        secrets[client_id] = secret if isinstance(secret, SecretStr) else SecretStr(secret)
    return secrets


def _is_utf8(text: str) -> bool:
    """False for lone surrogates (a JSON escape or a non-UTF-8 environment), unusable in a hash."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class SettingsError(Exception):
    """Raised with one human-readable line per bad setting."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def env_name(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "settings"
    field = str(loc[0])
    if field in REGION_VARIABLES or field == "region":
        # Name the variable that was actually set, in the order they take precedence.
        return next((name for name in REGION_VARIABLES if os.environ.get(name)), "AWS_REGION")
    return "RESEND_" + field.upper()


def load_settings(**overrides: Any) -> Settings:
    """Build the settings, turning pydantic's report into one line per problem.

    Input values are never echoed, since some of them are secrets.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        found = []
        for problem in validation.problems(exc):
            message = problem.message
            if problem.missing:
                # A nested member's name is the schema's, never an input value.
                nested = len(problem.location) > 1
                message = (
                    f"{problem.location[-1]} is required" if nested else "is required but not set"
                )
            if problem.location:
                found.append(f"{env_name(problem.location)}: {message}")
            else:
                found.append(message)
        raise SettingsError(found) from None
