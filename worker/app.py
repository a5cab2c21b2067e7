"""Wiring: build the worker's parts from settings, check its dependencies, run until a signal.

Start-up order matters for the probes: the HTTP server comes up first (not ready), then the
clients, the secrets and the reachability checks; only then is the worker ready and polling.
"""

from __future__ import annotations

import asyncio
import signal
from contextlib import AsyncExitStack
from dataclasses import dataclass

import structlog
from botocore.exceptions import ClientError, NoCredentialsError
from resend_contract.aws_errors import SETUP_CODES, describe

from worker import __version__, metrics
from worker.aws import AwsClients
from worker.claims import Claims
from worker.client_secrets import ClientSecrets, ClientSecretsError
from worker.cognito import CognitoCaller
from worker.consumer import Consumer
from worker.dedupe import DedupeStore, build_dedupe_store
from worker.health import Health, start_server
from worker.lanes import Lane
from worker.processor import Processor
from worker.queue import Queue
from worker.rate_limit import RateLimiter, build_rate_limiter
from worker.redrive import RedriveMismatch
from worker.redrive_watch import RedriveWatch
from worker.results import ResultPublisher
from worker.settings import Settings
from worker.users import UserDirectory, using

log = structlog.get_logger(__name__)

STARTUP_RETRY_SECONDS = 5.0


class StartupError(Exception):
    """A dependency is missing or forbidden; the message says which and why."""


@dataclass
class Edges:
    """The worker's adapters to the outside, opened once and closed with the worker."""

    clients: AwsClients
    queues: dict[Lane, Queue]  # interactive first; bulk when RESEND_BULK_QUEUE_URL is set
    publisher: ResultPublisher
    secrets: ClientSecrets
    limiter: RateLimiter
    store: DedupeStore | None


async def run_worker(
    settings: Settings,
    *,
    ready: asyncio.Event | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run until SIGTERM or SIGINT (or ``stop`` is set), then shut down gracefully."""
    health = Health(stale_after_seconds=3 * settings.receive_wait_seconds + 60)
    metrics.export_known_series()
    stopping = stop or asyncio.Event()
    async with AsyncExitStack() as stack:
        directory = stack.enter_context(using(UserDirectory.from_settings(settings)))
        runner, port = await start_server(health, settings.metrics_host, settings.metrics_port)
        stack.push_async_callback(runner.cleanup)
        log.info("http server listening", port=port, version=__version__)
        edges = await _open_edges(settings, stack)
        if edges.store is None:
            log.warning("deduplication is off: duplicate requests each send a code")
        if directory.uses_built_in_key:
            log.warning("RESEND_HASH_KEY is unset: usernames are hashed with the built-in key")
        consumers: list[Consumer] = []
        _stop_on_signals(stack, stopping, health, consumers)

        redrives = {
            lane: RedriveWatch(settings.max_attempts, settings.redrive_refresh_seconds, lane)
            for lane in edges.queues
        }
        checks = asyncio.create_task(_check_dependencies(edges, health, redrives))
        await asyncio.wait(
            {checks, asyncio.create_task(stopping.wait())}, return_when=asyncio.FIRST_COMPLETED
        )
        if stopping.is_set():
            checks.cancel()
            return
        checks.result()

        consumers.extend(_consumers(settings, edges, health, redrives, stack))
        if stopping.is_set():
            return
        health.ready = True
        health.polled()
        log.info(
            "worker ready",
            queue_url=settings.queue_url,
            bulk_queue_url=settings.bulk_queue_url,
            concurrency=settings.concurrency,
            cognito_max_rps=settings.cognito_max_rps,
            dedupe_backend=settings.dedupe_backend.value,
        )
        if ready is not None:
            ready.set()
        poller = asyncio.create_task(_run_all(consumers, settings.shutdown_timeout_seconds))
        health.poller = poller
        await poller
    log.info("worker stopped")


async def _open_edges(settings: Settings, stack: AsyncExitStack) -> Edges:
    """The AWS clients, the rate limiter and the dedupe store, each closed by ``stack``."""
    clients = await stack.enter_async_context(AwsClients(settings))
    limiter = build_rate_limiter(settings)
    stack.push_async_callback(limiter.close)
    store = build_dedupe_store(settings)
    if store is not None:
        stack.push_async_callback(store.close)
    return Edges(
        clients=clients,
        queues={
            lane: Queue(
                clients.sqs,
                url,
                dead_letter_queue_url=settings.dead_letter_queue_url,
                visibility_timeout=settings.visibility_timeout_seconds,
                dead_letter_max_bytes=settings.dead_letter_max_message_bytes,
            )
            for lane, url in settings.lanes.items()
        },
        publisher=ResultPublisher(clients.sns, settings.result_topic_arn),
        secrets=ClientSecrets.from_settings(settings, clients.secretsmanager),
        limiter=limiter,
        store=store,
    )


def _stop_on_signals(
    stack: AsyncExitStack, stopping: asyncio.Event, health: Health, consumers: list[Consumer]
) -> None:
    """SIGTERM and SIGINT set ``stopping``; that stops the consumer once there is one.

    A signal can arrive while the dependencies are still being checked, before any consumer
    exists: the event remembers it, and the wiring looks at it before it starts polling.
    """
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        log.info("signal received; shutting down", signal=signal.Signals(signum).name)
        stopping.set()

    async def stop_when_asked() -> None:
        await stopping.wait()
        health.stopping = True
        for consumer in consumers:
            consumer.stop()

    watcher = asyncio.create_task(stop_when_asked())
    stack.callback(watcher.cancel)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
        stack.callback(loop.remove_signal_handler, signum)


def _consumers(
    settings: Settings,
    edges: Edges,
    health: Health,
    redrives: dict[Lane, RedriveWatch],
    stack: AsyncExitStack,
) -> list[Consumer]:
    """One consumer loop per lane over checked edges, with their background refreshers.

    The lanes share the rate limiter (whose turns put interactive first), the claims (so a user
    asking in both lanes gets one code) and the publisher; each has its own queue, redrive
    policy and memory of answered messages.
    """
    refresher = asyncio.create_task(edges.secrets.refresh_forever())
    stack.callback(refresher.cancel)
    claims = Claims(
        edges.store,
        window_seconds=settings.dedupe_window_seconds,
        lease_seconds=settings.cognito_connect_timeout_seconds
        + settings.cognito_read_timeout_seconds
        + 5,
        fail_open=settings.dedupe_fail_open,
        recent_max_entries=settings.dedupe_bound,
    )
    # Closed after every consumer has finished (the stack unwinds after the poller returns).
    stack.push_async_callback(claims.close)
    limiter = edges.limiter
    consumers = []
    for lane, queue in edges.queues.items():
        redrive = redrives[lane]
        redrive_refresher = asyncio.create_task(redrive.refresh_forever(queue.attributes))
        stack.callback(redrive_refresher.cancel)
        processor = Processor(
            settings,
            edges.secrets,
            CognitoCaller(edges.clients.cognito, limiter, settings, lane),
            claims,
            redrive.limit,
        )
        bulk = lane is Lane.BULK
        consumers.append(
            Consumer(
                queue,
                edges.publisher,
                processor,
                health,
                concurrency=settings.concurrency,
                wait_seconds=settings.receive_wait_seconds,
                fifo=queue.url.endswith(".fifo"),
                # Bulk holds what this replica can start within the horizon: its own part of the
                # fleet's rate, at bulk's recent share of it.
                allowed_rps=(
                    (lambda: limiter.replica_rps * limiter.turns.bulk_share())
                    if bulk
                    else (lambda: limiter.allowed_rps)
                ),
                hold_seconds=settings.bulk_horizon_seconds if bulk else None,
                lane=lane,
            )
        )
    return consumers


async def _run_all(consumers: list[Consumer], shutdown_timeout: float) -> None:
    """Run every lane's consumer; when one stops unexpectedly, stop the others too."""
    tasks = [asyncio.create_task(consumer.run(shutdown_timeout)) for consumer in consumers]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for consumer in consumers:
            consumer.stop()
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()


async def _check_dependencies(
    edges: Edges, health: Health, redrives: dict[Lane, RedriveWatch]
) -> None:
    """Reachability of the queues, the topic, the secrets and the dedupe store, before polling."""
    while True:
        where = ""  # which lane's queue failed, when it is not the only one
        try:
            for lane, queue in edges.queues.items():
                where = " (bulk lane)" if lane is Lane.BULK else ""
                redrives[lane].read(await queue.attributes())
            where = ""
            await edges.publisher.topic_attributes()
            await edges.secrets.load()
            ping = getattr(edges.store, "ping", None)
            if ping is not None:
                await ping()
            return
        except ClientError as exc:
            code = describe(exc).code
            operation = exc.operation_name
            if code in SETUP_CODES:
                # No amount of waiting fixes these: stop with a clear message instead of looping.
                raise StartupError(
                    f"{operation}{where} failed with {code}: check the settings and IAM"
                ) from None
            health.not_ready_reason = f"{operation}{where}: {code}"
        except ClientSecretsError as exc:
            raise StartupError(f"client secrets: {exc}") from None
        except RedriveMismatch as exc:
            raise StartupError(f"{exc}{where}") from None
        except NoCredentialsError:
            raise StartupError("no AWS credentials found for SQS and SNS") from None
        except Exception as exc:
            health.not_ready_reason = f"dependency check: {type(exc).__name__}"
        log.warning("dependencies not reachable yet; retrying", reason=health.not_ready_reason)
        await asyncio.sleep(STARTUP_RETRY_SECONDS)
