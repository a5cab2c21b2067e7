"""The shared AWS error taxonomy: what each failure says about the request and a retry."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from aiohttp import ServerDisconnectedError
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from resend_contract.aws_errors import (
    CONNECT_ERROR,
    CONNECT_TIMEOUT,
    CONNECTION_LOST,
    HTTP_5XX,
    READ_TIMEOUT,
    EntryFailed,
    Reached,
    describe,
    entry_failure,
)

URL = "http://127.0.0.1:1/secret-path?token=abc"


def answered(code: str, message: str = "m", status: int = 400, kind: str = "") -> ClientError:
    error = {"Code": code, "Message": message, **({"Type": kind} if kind else {})}
    response: Any = {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "ResendConfirmationCode")


@pytest.mark.parametrize(
    ("exc", "code", "reached", "retriable"),
    [
        (EndpointConnectionError(endpoint_url=URL), CONNECT_ERROR, Reached.NO, True),
        (ConnectTimeoutError(endpoint_url=URL), CONNECT_TIMEOUT, Reached.NO, True),
        (ConnectionRefusedError(), CONNECT_ERROR, Reached.NO, True),
        (ReadTimeoutError(endpoint_url=URL), READ_TIMEOUT, Reached.MAYBE, True),
        (ConnectionClosedError(endpoint_url=URL), CONNECTION_LOST, Reached.MAYBE, True),
        (ServerDisconnectedError(), CONNECTION_LOST, Reached.MAYBE, True),
        (ConnectionResetError(), CONNECTION_LOST, Reached.MAYBE, True),
        (TimeoutError(), READ_TIMEOUT, Reached.MAYBE, True),
        (
            ParamValidationError(report="Username: jane@example.com"),
            "ParamValidationError",
            Reached.NO,
            False,
        ),
        (NoCredentialsError(), "ConfigurationError", Reached.NO, False),
        (RuntimeError("jane@example.com"), "RuntimeError", Reached.MAYBE, False),
    ],
)
def test_failures_without_an_answer(
    exc: BaseException, code: str, reached: Reached, retriable: bool
) -> None:
    failure = describe(exc)
    assert (failure.code, failure.reached, failure.retriable) == (code, reached, retriable)
    assert failure.may_have_been_done is (reached is Reached.MAYBE)
    # Never the exception's own text: it carries the endpoint or the request's values.
    assert "127.0.0.1" not in failure.message
    assert "jane" not in failure.message


@pytest.mark.parametrize(
    ("code", "status", "retriable", "throttled"),
    [
        ("TooManyRequestsException", 400, True, True),
        ("ThrottlingException", 400, True, True),
        ("InternalErrorException", 500, True, False),
        ("UserNotFoundException", 400, False, False),
        ("LimitExceededException", 400, False, False),
        ("SomethingNew", 503, True, False),
    ],
)
def test_error_answers(code: str, status: int, retriable: bool, throttled: bool) -> None:
    failure = describe(answered(code, "Username/client id combination not found.", status))
    assert failure.code == code
    assert failure.reached is Reached.ANSWERED
    assert not failure.may_have_been_done
    assert failure.retriable is retriable
    assert failure.throttled is throttled
    assert failure.status == status
    assert failure.message == "Username/client id combination not found."


def test_a_5xx_without_a_code_may_hide_a_processed_request() -> None:
    failure = describe(answered("", status=504))
    assert failure.code == HTTP_5XX
    assert failure.reached is Reached.MAYBE
    assert failure.retriable


def test_sender_faults_are_marked() -> None:
    assert describe(answered("InvalidParameterValue", kind="Sender")).sender_fault
    assert not describe(answered("InternalError", status=500, kind="Receiver")).sender_fault


def test_batch_entries() -> None:
    final = entry_failure({"Id": "0", "Code": "InvalidParameter", "SenderFault": True})
    assert (final.retriable, final.sender_fault, final.reached) == (False, True, Reached.ANSWERED)
    passing = entry_failure({"Id": "1", "Code": "InternalError", "SenderFault": False})
    assert passing.retriable
    throttled = entry_failure({"Id": "2", "Code": "ThrottlingException", "SenderFault": True})
    assert throttled.retriable and throttled.throttled


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and reads requests but never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = int(server.getsockname()[1])
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield port
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


async def resend(port: int) -> BaseException:
    config = AioConfig(
        connect_timeout=1, read_timeout=0.5, retries={"mode": "standard", "total_max_attempts": 1}
    )
    async with AioSession().create_client(
        "sqs",
        region_name="us-east-1",
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    ) as sqs:
        with pytest.raises(Exception) as raised:
            await sqs.get_queue_url(QueueName="q")
    return raised.value


async def test_a_refused_connection_from_the_sdk_never_reached(closed_port: int) -> None:
    failure = describe(await resend(closed_port))
    assert failure.reached is Reached.NO
    assert failure.retriable


async def test_a_silent_server_from_the_sdk_may_have_done_it(silent_server: int) -> None:
    failure = describe(await resend(silent_server))
    assert failure.code == READ_TIMEOUT
    assert failure.reached is Reached.MAYBE


def test_a_failed_batch_entry_raised_is_described_as_its_entry() -> None:
    raised = EntryFailed(entry_failure({"Id": "0", "Code": "InternalError", "SenderFault": False}))
    assert describe(raised) is raised.failure
    assert describe(raised).retriable and str(raised).startswith("InternalError")
