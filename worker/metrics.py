"""The metric catalogue: every Prometheus metric the worker exports is defined here and only here.

Dashboards and alerts in ``deploy/`` refer to these names; a test runs their queries against a
real Prometheus scraping the worker, so renaming one here without updating them fails the suite.
Labels are bounded by construction: outcomes, error codes (a closed set from Cognito's model or
our own), reasons and kinds. Never a username, request id or message id.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info

from worker import __version__

PREFIX = "resend_worker"

# From a millisecond (a warm local call) to tens of seconds (a call that retried, a long wait).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# End-to-end age reaches hours when messages are deferred for a per-user limit.
AGE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400)

messages_received = Counter(
    f"{PREFIX}_messages_received_total", "SQS messages received (every delivery counts)."
)
messages_processed = Counter(
    f"{PREFIX}_messages_processed_total",
    "Requests that reached a final result, by outcome (sent, duplicate, failed, invalid).",
    ["outcome"],
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
    "From the message's SentTimestamp to its result being published.",
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
    "Time a Cognito call waited for a rate-limit token.",
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
last_successful_poll = Gauge(
    f"{PREFIX}_last_successful_poll_timestamp_seconds",
    "Unix time of the last ReceiveMessage that completed without error.",
)
build_info = Info(f"{PREFIX}_build", "The running version.")
build_info.info({"version": __version__})
