"""The metric catalogue: every Prometheus metric the worker exports is defined here and only here.

Dashboards and alerts in ``deploy/`` refer to these names; a test runs their queries against a
real Prometheus scraping the worker, so renaming one here without updating them fails the suite.
Labels are bounded by construction: outcomes, error codes (a closed set from Cognito's model or
our own), reasons and kinds. Never a username, request id or message id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from prometheus_client import Counter, Gauge, Histogram, Info

from worker import __version__
from worker.lanes import Lane

if TYPE_CHECKING:
    from worker import retry

PREFIX = "resend_worker"

# Label values that are the metrics' own vocabulary (the others are error codes, outcomes and
# reasons defined by the policy modules; ``known_label_values`` reads them from there).
OK = "ok"
ERROR = "error"


class DedupeHit(StrEnum):
    """Kinds of ``dedupe_hits``: how the store answered a request without a call."""

    COMPLETED = "completed"
    IN_PROGRESS = "in_progress"
    REDELIVERY = "redelivery"
    ABANDONED = "abandoned"  # a record left by a worker that died mid-call


class StoreOperation(StrEnum):
    """Operations of the dedupe store, as ``dedupe_store_*`` label them."""

    CLAIM = "claim"
    MARK_SENDING = "mark_sending"
    RENEW = "renew"
    COMPLETE = "complete"
    UPDATE_RESULT = "update_result"
    RELEASE = "release"
    GET = "get"
    PING = "ping"


class DeferCause(StrEnum):
    """Deferral reasons that are not a Cognito error: the store, or the worker itself."""

    DEDUPE_IN_PROGRESS = "dedupe_in_progress"
    DEDUPE_UNAVAILABLE = "dedupe_unavailable"
    INTERNAL_ERROR = "internal_error"


# From a millisecond (a warm local call) to tens of seconds (a call that retried, a long wait).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# End-to-end age reaches hours when messages are deferred for a per-user limit.
AGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400)

# Metrics labelled by lane carry it last; every lane's series exists from the start.
LANE = "lane"
messages_received = Counter(
    f"{PREFIX}_messages_received_total",
    "SQS messages received (every delivery counts), by lane (interactive, bulk).",
    [LANE],
)
messages_processed = Counter(
    f"{PREFIX}_messages_processed_total",
    "Requests that reached a final result, by outcome (sent, duplicate, failed, invalid) and lane.",
    ["outcome", LANE],
)
cognito_requests = Counter(
    f"{PREFIX}_cognito_requests_total",
    "ResendConfirmationCode calls by result: ok, or the error code.",
    ["result"],
)
cognito_request_duration = Histogram(
    f"{PREFIX}_cognito_request_duration_seconds",
    "Duration of one ResendConfirmationCode HTTP call.",
    buckets=LATENCY_BUCKETS,
)
retries = Counter(
    f"{PREFIX}_retries_total", "In-process retries of the Cognito call, by reason.", ["reason"]
)
deferrals = Counter(
    f"{PREFIX}_deferrals_total",
    "Messages released to the queue for a later attempt, by reason (error code or cause).",
    ["reason"],
)
permanent_failures = Counter(
    f"{PREFIX}_permanent_failures_total",
    "Requests answered failed, by error code.",
    ["code"],
)
daily_email_limit = Counter(
    f"{PREFIX}_daily_email_limit_total",
    "Calls refused because the account's daily email quota is spent (page someone).",
)
dedupe_hits = Counter(
    f"{PREFIX}_dedupe_hits_total",
    "Requests answered from the dedupe store, by kind (completed, in_progress, redelivery,"
    " abandoned: a record left by a worker that died mid-call).",
    ["kind"],
)
UNKNOWN_OUTCOME_CAUSES = ("read_timeout", "connection_lost", "abandoned")
unknown_outcomes = Counter(
    f"{PREFIX}_unknown_outcomes_total",
    "Requests answered unknown (a code was probably sent, never called again), by cause"
    " (read_timeout, connection_lost, abandoned).",
    ["cause"],
)
dedupe_store_duration = Histogram(
    f"{PREFIX}_dedupe_store_duration_seconds",
    "Latency of one dedupe store operation.",
    ["operation"],
    buckets=LATENCY_BUCKETS,
)
dedupe_store_errors = Counter(
    f"{PREFIX}_dedupe_store_errors_total",
    "Dedupe store operations that failed (store unreachable or erroring).",
    ["operation"],
)
messages_in_flight = Gauge(f"{PREFIX}_messages_in_flight", "Messages received and not yet done.")
message_age = Histogram(
    f"{PREFIX}_message_age_seconds",
    "From the message's SentTimestamp to its result being published, by lane.",
    [LANE],
    buckets=AGE_BUCKETS,
)
rate_limit_allowed_rps = Gauge(
    f"{PREFIX}_rate_limit_allowed_rps", "Cognito calls per second the limiter allows right now."
)
rate_limit_max_rps = Gauge(
    f"{PREFIX}_rate_limit_max_rps", "The configured ceiling, RESEND_COGNITO_MAX_RPS."
)
rate_limit_wait = Histogram(
    f"{PREFIX}_rate_limit_wait_seconds",
    "Time a Cognito call waited for a rate-limit token, by lane.",
    [LANE],
    buckets=LATENCY_BUCKETS,
)
rate_limit_fallbacks = Counter(
    f"{PREFIX}_rate_limit_fallbacks_total",
    "Times the shared Redis limiter was unreachable and the local fallback bucket took over.",
)
rate_limit_fallback_active = Gauge(
    f"{PREFIX}_rate_limit_fallback_active", "1 while the local fallback bucket is in use."
)
sns_publish = Counter(
    f"{PREFIX}_sns_publish_total", "Result publications by result (ok, error).", ["result"]
)
sqs_delete_failures = Counter(
    f"{PREFIX}_sqs_delete_failures_total", "DeleteMessageBatch entries that failed."
)
sqs_visibility_extensions = Counter(
    f"{PREFIX}_sqs_visibility_extensions_total",
    "Visibility extensions of messages still being worked on.",
)
dead_letters = Counter(
    f"{PREFIX}_dead_letters_total",
    "Invalid bodies copied to RESEND_DEAD_LETTER_QUEUE_URL.",
)
client_secrets_refresh = Counter(
    f"{PREFIX}_client_secrets_refresh_total",
    "Reloads of the client secrets, by result (ok, error).",
    ["result"],
)
HTTP_DROP_REASONS = (
    "header_timeout",
    "head_too_large",
    "evicted",
    "over_capacity",
    "write_timeout",
)
http_connections_dropped = Counter(
    f"{PREFIX}_http_connections_dropped_total",
    "Connections to the metrics/health port closed unanswered, by reason (header_timeout, "
    "head_too_large, evicted, over_capacity, write_timeout).",
    ["reason"],
)
# Every reason exists from the start at 0, so the alert's increase() sees the first failure.
CLIENT_SECRETS_FAILURE_REASONS = ("unreadable", "too_large", "not_utf8", "invalid")
client_secrets_refresh_failures = Counter(
    f"{PREFIX}_client_secrets_refresh_failures_total",
    "Re-reads of the client secrets that failed and kept the last good ones, by reason "
    "(unreadable, too_large, not_utf8, invalid).",
    ["reason"],
)
message_attributes_dropped = Counter(
    f"{PREFIX}_message_attributes_dropped_total",
    "Message attributes not copied to the result nor logged, by attribute (traceparent, "
    "tracestate, AWSTraceHeader when malformed or too long; other for any other name).",
    ["attribute"],
)
repeat_deliveries = Counter(
    f"{PREFIX}_repeat_deliveries_total",
    "Redeliveries of messages this replica already answered (a lost delete or a failed "
    "dead-letter copy), settled without a second result.",
)
dead_letter_failures = Counter(
    f"{PREFIX}_dead_letter_failures_total",
    "Dead-letter copies that failed; the message comes back and the copy is retried without "
    "publishing again.",
)
dead_letter_attributes_trimmed = Counter(
    f"{PREFIX}_dead_letter_attributes_trimmed_total",
    "Dead-letter copies whose attributes were dropped or cut so the copy fits the queue's "
    "MaximumMessageSize.",
)
final_receives = Counter(
    f"{PREFIX}_final_receives_total",
    "Requests answered failed on the last receive the queue's redrive policy allows, before "
    "SQS would move them to its dead-letter queue unanswered.",
)
redrive_max_receive_count = Gauge(
    f"{PREFIX}_redrive_max_receive_count",
    "Each lane's queue's redrive maxReceiveCount as last read (0: no redrive policy).",
    [LANE],
)
last_successful_poll = Gauge(
    f"{PREFIX}_last_successful_poll_timestamp_seconds",
    "Unix time of the last ReceiveMessage that completed without error.",
)
build_info = Info(f"{PREFIX}_build", "The running version.")
build_info.info({"version": __version__})


_Metric = TypeVar("_Metric", Counter, Histogram)


class Children(Generic[_Metric]):
    """One labelled metric's children by label values, each looked up once.

    ``labels()`` checks its arguments and takes a lock on every call, and a message makes
    several. A child is made on first use, not before, so a series still appears with its first
    event where that matters (``cognito_requests``). Label values are bounded sets, so is this.
    """

    __slots__ = ("_children", "_metric")

    def __init__(self, metric: _Metric) -> None:
        self._metric: _Metric = metric
        self._children: dict[tuple[str, ...], _Metric] = {}

    def __call__(self, *values: str) -> _Metric:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self._metric.labels(*values)
        return child


def known_label_values() -> Mapping[Counter | Histogram, tuple[str, ...]]:
    """Every labelled metric with each value of its first label known before any event happens.

    A metric labelled by lane has each of these series once per lane (``known_series``).

    Codes and reasons come from the retry policy's own classification (each code of its tables
    run through ``classify``, so a change of policy changes these series with it), outcomes from
    the contract. Imported here, not at the top: those modules import this one.

    ``cognito_requests`` is left out while ResendWorkerCognitoConfigError keeps its branch for a
    series' first appearance (``unless ... offset 5m`` shortly after start): that branch would
    fire on a fresh worker's zeros. With it gone, ``OK`` plus every verdict's code go here.
    """
    from resend_contract.models import Outcome

    from worker import retry
    from worker.intake import DROPPED_ATTRIBUTES
    from worker.processor import DEFERRAL_BUDGET_EXHAUSTED

    verdicts = _known_verdicts()
    retried = [v for v in verdicts if v.action is retry.Action.RETRY]
    deferred = [v for v in verdicts if v.action is retry.Action.DEFER]
    deferred += [retry.when_exhausted(v) for v in retried]
    return {
        messages_processed: _values(o.value for o in Outcome),
        retries: _values(v.code for v in retried),
        deferrals: _values((v.reason or v.code for v in deferred), DeferCause),
        # A deferral whose delivery budget runs out is answered failed with its own code.
        permanent_failures: _values((v.code for v in verdicts), [DEFERRAL_BUDGET_EXHAUSTED]),
        dedupe_hits: _values(DedupeHit),
        dedupe_store_duration: _values(StoreOperation),
        dedupe_store_errors: _values(StoreOperation),
        sns_publish: _values([OK, ERROR]),
        client_secrets_refresh: _values([OK, ERROR]),
        client_secrets_refresh_failures: _values(CLIENT_SECRETS_FAILURE_REASONS),
        unknown_outcomes: _values(UNKNOWN_OUTCOME_CAUSES),
        http_connections_dropped: _values(HTTP_DROP_REASONS),
        message_attributes_dropped: _values(DROPPED_ATTRIBUTES),
        messages_received: _values(Lane),
        message_age: _values(Lane),
        rate_limit_wait: _values(Lane),
    }


def known_series() -> Iterator[tuple[Counter | Histogram, tuple[str, ...]]]:
    """Every labelled metric with the label values of each of its known series."""
    for metric, values in known_label_values().items():
        lanes = metric._labelnames[1:] == (LANE,)
        for value in values:
            if lanes:
                for lane in Lane:
                    yield metric, (value, lane.value)
            else:
                yield metric, (value,)


def export_known_series() -> None:
    """Create every known series at 0, at start-up.

    A labelled series does not exist until its first event: dashboards show "No data" instead
    of 0, and ``increase()`` misses the first event, since it has no earlier sample to compare.
    """
    for metric, values in known_series():
        metric.labels(*values)


def _values(*groups: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({str(value) for group in groups for value in group}))


def _known_verdicts() -> list[retry.Verdict]:
    """The retry policy's verdict for every failure it names, as ``classify`` gives it."""
    from botocore.exceptions import (
        ClientError,
        ConnectTimeoutError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    from worker import retry

    def answered(code: str, message: str = "", status: int = 400) -> ClientError:
        response: Any = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return ClientError(response, "ResendConfirmationCode")

    failures: list[BaseException] = [
        answered(code) for code in sorted(retry.RETRY_NOW | retry.DEFER | retry.PERMANENT)
    ]
    failures += [
        # The two meanings of LimitExceededException, told apart by the message.
        answered("LimitExceededException", "Exceeded daily email limit for the operation"),
        answered("", status=503),
        ReadTimeoutError(endpoint_url="https://cognito-idp"),
        EndpointConnectionError(endpoint_url="https://cognito-idp"),
        ConnectTimeoutError(endpoint_url="https://cognito-idp"),
    ]
    return [retry.classify(failure) for failure in failures]
