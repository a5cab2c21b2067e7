"""The knobs that make the local Cognito misbehave on purpose, and the call record tests read.

Tests, benchmarks and the demo need Cognito's bad days on demand: the account quota, the per-user
attempt limit, the daily email limit, delivery failures and plain 500s. These types are shared by
the server side (``devstack.cognito``) and the HTTP client (``devstack.client``),
so both speak the same JSON.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# ResendConfirmationCode's error list in botocore's model (cognito-idp 2016-04-18).
OPERATION_ERRORS: frozenset[str] = frozenset(
    {
        "ResourceNotFoundException",
        "InvalidParameterException",
        "UnexpectedLambdaException",
        "UserLambdaValidationException",
        "NotAuthorizedException",
        "InvalidLambdaResponseException",
        "TooManyRequestsException",
        "LimitExceededException",
        "InvalidSmsRoleAccessPolicyException",
        "InvalidSmsRoleTrustRelationshipException",
        "InvalidEmailRoleAccessPolicyException",
        "CodeDeliveryFailureException",
        "UserNotFoundException",
        "OperationNotEnabledException",
        "InternalErrorException",
        "ForbiddenException",
    }
)

# Not a Cognito code: asks for LimitExceededException with the daily-email-limit message,
# which is the second meaning Cognito gives that code.
DAILY_EMAIL_LIMIT = "DailyEmailLimitExceeded"

ATTEMPT_LIMIT_MESSAGE = "Attempt limit exceeded, please try after some time."
DAILY_EMAIL_LIMIT_MESSAGE = (
    "Exceeded daily email limit for the operation or the account. If a higher limit is "
    "required, please configure your user pool to use your own Amazon SES configuration "
    "for sending email."
)
_MESSAGES = {
    "TooManyRequestsException": "Too many requests",
    "LimitExceededException": ATTEMPT_LIMIT_MESSAGE,
    "InternalErrorException": "Internal server error.",
    "CodeDeliveryFailureException": "Unable to deliver the verification code.",
    "ForbiddenException": "Request is forbidden.",
}
# Where a held request waits: before anything is decided, or after its code was issued.
HOLD_BEFORE = "before"
HOLD_AFTER = "after"
HOLD_PHASES = (HOLD_BEFORE, HOLD_AFTER)
# Cognito answers 400 for nearly everything, whatever the model says; these are the exceptions.
_STATUS = {"InternalErrorException": 500, "ForbiddenException": 403}


def error_for(code: str) -> tuple[str, str, int]:
    """Map an injectable code to the (Error.Code, message, HTTP status) Cognito would answer."""
    if code == DAILY_EMAIL_LIMIT:
        return "LimitExceededException", DAILY_EMAIL_LIMIT_MESSAGE, 400
    message = _MESSAGES.get(code, f"Injected {code} (devstack).")
    return code, message, _STATUS.get(code, 400)


def _check_code(code: object, what: str) -> str:
    if not isinstance(code, str) or (code not in OPERATION_ERRORS and code != DAILY_EMAIL_LIMIT):
        raise ValueError(f"{what}: {code!r} is not an error ResendConfirmationCode can raise")
    return code


def _check_number(value: object, what: str, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{what} must be a non-negative number")


@dataclass(frozen=True)
class Faults:
    """Every knob, with "behave like a healthy Cognito" as the default.

    quota_rps: the account's request quota, a token bucket refilled at this rate; requests
        finding it empty get TooManyRequestsException and reach nothing else.
    burst: the bucket's capacity (default: one second of quota, at least 1).
    per_user_hourly_limit: successful codes per (pool, user) in any rolling hour before
        LimitExceededException "Attempt limit exceeded ...".
    daily_email_limit: successful email deliveries since the last reset before
        LimitExceededException "Exceeded daily email limit ...".
    error_rate, error_code: that fraction of requests fails with that code.
    user_errors: username -> code, failing every request for that username (the code may be
        DAILY_EMAIL_LIMIT).
    latency_ms, jitter_ms: added before answering, jitter uniform in [0, jitter_ms].
    hold_users: username -> "before" | "after": that user's requests wait, until released
        (``POST /_devstack/cognito/release``), either before anything happens ("before": the
        request is in flight, nothing decided) or after the code is issued and recorded
        ("after": Cognito has sent it, the answer is not out yet). Deterministic points at
        which to kill a worker.
    """

    quota_rps: float | None = None
    burst: float | None = None
    per_user_hourly_limit: int | None = None
    daily_email_limit: int | None = None
    error_rate: float = 0.0
    error_code: str = "InternalErrorException"
    user_errors: Mapping[str, str] = field(default_factory=dict)
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    hold_users: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("quota_rps", "burst", "per_user_hourly_limit", "daily_email_limit"):
            _check_number(getattr(self, name), name, optional=True)
        for name in ("error_rate", "latency_ms", "jitter_ms"):
            _check_number(getattr(self, name), name, optional=False)
        if self.quota_rps == 0:
            raise ValueError("quota_rps must be positive (or null for no quota)")
        if self.error_rate > 1:
            raise ValueError("error_rate must be between 0 and 1")
        _check_code(self.error_code, "error_code")
        if not isinstance(self.user_errors, Mapping):
            raise ValueError("user_errors must map usernames to error codes")
        for username, code in self.user_errors.items():
            _check_code(code, f"user_errors[{username!r}]")
        object.__setattr__(self, "user_errors", dict(self.user_errors))
        if not isinstance(self.hold_users, Mapping):
            raise ValueError("hold_users must map usernames to 'before' or 'after'")
        for username, phase in self.hold_users.items():
            if phase not in HOLD_PHASES:
                raise ValueError(f"hold_users[{username!r}] must be 'before' or 'after'")
        object.__setattr__(self, "hold_users", dict(self.hold_users))

    def updated(self, changes: Mapping[str, Any]) -> Faults:
        """A copy with some knobs changed; unknown knob names are refused, not ignored."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown fault knobs: {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        return {
            **dataclasses.asdict(self),
            "user_errors": dict(self.user_errors),
            "hold_users": dict(self.hold_users),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Faults:
        return cls().updated(data)


@dataclass(frozen=True)
class Call:
    """One ResendConfirmationCode call as the server answered it; result is "ok" or Error.Code."""

    timestamp: float
    username: str
    result: str


@dataclass(frozen=True)
class CallStats:
    """What the local Cognito saw since the last reset.

    sent_by_user counts codes really issued (not simulated successes for unknown users);
    max_ok_per_second is the most "ok" answers in any one-second window.
    """

    total: int
    by_result: dict[str, int]
    sent_by_user: dict[str, int]
    calls: list[Call]
    max_ok_per_second: int

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_result": self.by_result,
            "sent_by_user": self.sent_by_user,
            "calls": [[c.timestamp, c.username, c.result] for c in self.calls],
            "max_ok_per_second": self.max_ok_per_second,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallStats:
        return cls(
            total=int(data["total"]),
            by_result={str(k): int(v) for k, v in data["by_result"].items()},
            sent_by_user={str(k): int(v) for k, v in data["sent_by_user"].items()},
            calls=[Call(float(t), str(u), str(r)) for t, u, r in data["calls"]],
            max_ok_per_second=int(data["max_ok_per_second"]),
        )
