"""``resend-client enqueue`` for one request: flags, input files, overrides and parameter errors.

Everything that reaches SQS is read back from the queue on the devstack, over HTTP.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from .helpers import Queues, run_cli

pytestmark = pytest.mark.integration

CLIENT_ID = "1example23456789"


@pytest.fixture
def queue(queues: Queues) -> str:
    return queues.create()


def base(queues: Queues, queue: str) -> list[str]:
    return ["--queue-url", queue, "--endpoint-url", queues.endpoint_url]


def test_sends_one_request_and_prints_its_ids(
    capsys: pytest.CaptureFixture[str], queues: Queues, queue: str
) -> None:
    run = run_cli(
        capsys, *base(queues, queue), "--client-id", CLIENT_ID, "--username", "jane@example.com"
    )
    assert run.status == 0, run.err
    printed = run.json()
    assert set(printed) == {"RequestId", "MessageId"}
    assert uuid.UUID(printed["RequestId"]).version == 4

    [message] = queues.drain(queue)
    assert message["MessageId"] == printed["MessageId"]
    assert json.loads(message["Body"]) == {
        "ClientId": CLIENT_ID,
        "Username": "jane@example.com",
        "RequestId": printed["RequestId"],
    }


def test_every_parameter_reaches_the_body(
    capsys: pytest.CaptureFixture[str], queues: Queues, queue: str
) -> None:
    run = run_cli(
        capsys,
        *base(queues, queue),
        "--client-id",
        CLIENT_ID,
        "--username",
        "jane",
        "--secret-hash",
        "c2VjcmV0LWhhc2g+/w==",
        "--user-context-data",
        'IpAddress=192.0.2.1,EncodedData="a,b=c"',
        "--analytics-metadata",
        '{"AnalyticsEndpointId": "endpoint-1"}',
        "--client-metadata",
        "source=signup-page,campaign='spring, 2026'",
        "--request-id",
        "signup-42",
    )
    assert run.status == 0, run.err
    assert run.json()["RequestId"] == "signup-42"
    assert queues.bodies(queue) == [
        {
            "ClientId": CLIENT_ID,
            "Username": "jane",
            "SecretHash": "c2VjcmV0LWhhc2g+/w==",
            "UserContextData": {"IpAddress": "192.0.2.1", "EncodedData": "a,b=c"},
            "AnalyticsMetadata": {"AnalyticsEndpointId": "endpoint-1"},
            "ClientMetadata": {"source": "signup-page", "campaign": "spring, 2026"},
            "RequestId": "signup-42",
        }
    ]


def test_file_values_for_strings_structures_and_maps(
    capsys: pytest.CaptureFixture[str], queues: Queues, queue: str, tmp_path: Path
) -> None:
    (tmp_path / "username.txt").write_text("from-a-file", encoding="utf-8")
    (tmp_path / "context.json").write_text('{"IpAddress": "192.0.2.7"}', encoding="utf-8")
    (tmp_path / "metadata.txt").write_text("a=1,b=2", encoding="utf-8")
    run = run_cli(
        capsys,
        *base(queues, queue),
        "--client-id",
        CLIENT_ID,
        "--username",
        f"file://{tmp_path}/username.txt",
        "--user-context-data",
        f"file://{tmp_path}/context.json",
        "--client-metadata",
        f"file://{tmp_path}/metadata.txt",
    )
    assert run.status == 0, run.err
    [body] = queues.bodies(queue)
    assert body["Username"] == "from-a-file"
    assert body["UserContextData"] == {"IpAddress": "192.0.2.7"}
    assert body["ClientMetadata"] == {"a": "1", "b": "2"}


def test_queue_url_from_the_environment(
    capsys: pytest.CaptureFixture[str],
    queues: Queues,
    queue: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RESEND_QUEUE_URL", queue)
    run = run_cli(
        capsys,
        "--endpoint-url",
        queues.endpoint_url,
        "--client-id",
        CLIENT_ID,
        "--username",
        "jane",
    )
    assert run.status == 0, run.err
    assert [m["MessageId"] for m in queues.drain(queue)] == [run.json()["MessageId"]]


def test_delay_seconds_on_a_standard_queue(
    capsys: pytest.CaptureFixture[str], queues: Queues, queue: str
) -> None:
    run = run_cli(
        capsys,
        *base(queues, queue),
        "--client-id",
        CLIENT_ID,
        "--username",
        "jane",
        "--delay-seconds",
        "900",
    )
    assert run.status == 0, run.err
    assert queues.drain(queue) == []  # not visible before its delay
    assert queues.depth(queue) == 1


# --cli-input-json and --cli-input-yaml.

INPUT = {
    "ClientId": CLIENT_ID,
    "Username": "from-input",
    "ClientMetadata": {"source": "input", "extra": "kept?"},
    "UserContextData": {"IpAddress": "192.0.2.1"},
    "RequestId": "input-request",
}


def test_cli_input_json_alone(
    capsys: pytest.CaptureFixture[str], queues: Queues, queue: str
) -> None:
    run = run_cli(capsys, *base(queues, queue), "--cli-input-json", json.dumps(INPUT))
    assert run.status == 0, run.err
    assert run.json()["RequestId"] == "input-request"
    assert queues.bodies(queue) == [INPUT]


def test_flags_override_cli_input_json_member_by_member(
    capsys: pytest.CaptureFixture[str], queues: Queues, queue: str, tmp_path: Path
) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(INPUT), encoding="utf-8")
    run = run_cli(
        capsys,
        *base(queues, queue),
        "--cli-input-json",
        f"file://{path}",
        "--username",
        "from-flag",
        "--client-metadata",
        "source=flag",
        "--request-id",
        "flag-request",
    )
    assert run.status == 0, run.err
    assert run.json()["RequestId"] == "flag-request"
    assert queues.bodies(queue) == [
        {
            "ClientId": CLIENT_ID,  # from the file
            "Username": "from-flag",
            # A flag replaces the whole member, as in the AWS CLI: no merge with the file's map.
            "ClientMetadata": {"source": "flag"},
            "UserContextData": {"IpAddress": "192.0.2.1"},  # from the file
            "RequestId": "flag-request",
        }
    ]


def test_cli_input_yaml_inline_and_from_a_file(
    capsys: pytest.CaptureFixture[str], queues: Queues, queue: str, tmp_path: Path
) -> None:
    text = (
        f"ClientId: '{CLIENT_ID}'\n"
        "Username: yaml-user\n"
        "ClientMetadata:\n"
        "  source: yaml\n"
        "AnalyticsMetadata:\n"
        "  AnalyticsEndpointId: endpoint-9\n"
    )
    path = tmp_path / "request.yaml"
    path.write_text(text, encoding="utf-8")
    inline = run_cli(capsys, *base(queues, queue), "--cli-input-yaml", text)
    from_file = run_cli(
        capsys,
        *base(queues, queue),
        "--cli-input-yaml",
        f"file://{path}",
        "--analytics-metadata",
        "AnalyticsEndpointId=endpoint-flag",
    )
    assert inline.status == 0, inline.err
    assert from_file.status == 0, from_file.err
    bodies = {b["RequestId"]: b for b in queues.bodies(queue)}
    first = bodies[inline.json()["RequestId"]]
    second = bodies[from_file.json()["RequestId"]]
    assert first["Username"] == second["Username"] == "yaml-user"
    assert first["ClientMetadata"] == second["ClientMetadata"] == {"source": "yaml"}
    assert first["AnalyticsMetadata"] == {"AnalyticsEndpointId": "endpoint-9"}
    assert second["AnalyticsMetadata"] == {"AnalyticsEndpointId": "endpoint-flag"}


def test_json_and_yaml_input_cannot_be_combined(
    capsys: pytest.CaptureFixture[str], queues: Queues, queue: str
) -> None:
    run = run_cli(capsys, *base(queues, queue), "--cli-input-json", "{}", "--cli-input-yaml", "{}")
    assert run.status == 252
    assert "not allowed with argument" in run.err


# Bad values: exit 2, the parameter named, nothing sent, the value never echoed.

LONG = "x" * 129
BAD_VALUES = [
    ("--client-id", "has space", "--client-id", "must contain only letters, digits"),
    ("--client-id", "", "--client-id", "at least 1 character"),
    ("--client-id", LONG, "--client-id", "at most 128 characters"),
    ("--username", "jane doe@example.com", "--username", "must not contain whitespace"),
    ("--username", LONG, "--username", "at most 128 characters"),
    ("--secret-hash", "not base64!", "--secret-hash", "must be base64"),
    ("--secret-hash", "", "--secret-hash", "at least 1 character"),
    ("--user-context-data", "Foo=1", "--user-context-data", "Foo: unknown member"),
    ("--user-context-data", "IpAddress=" + "1" * 257, "--user-context-data", "IpAddress:"),
    ("--user-context-data", "IpAddress=a,b", "--user-context-data", "valid string"),
    ("--user-context-data", "IpAddress", "--user-context-data", "invalid shorthand syntax"),
    ("--user-context-data", '{"IpAddress": ', "--user-context-data", "invalid JSON"),
    ("--user-context-data", "[1, 2]", "--user-context-data", "valid dictionary"),
    ("--analytics-metadata", "Other=1", "--analytics-metadata", "Other: unknown member"),
    ("--analytics-metadata", "AnalyticsEndpointId=" + "e" * 257, "--analytics-metadata", "256"),
    ("--client-metadata", '{"count": 1}', "--client-metadata", "count: Input should be"),
    ("--client-metadata", "k=[a,b]", "--client-metadata", "k: Input should be a valid string"),
    ("--client-metadata", "k=a,k=b", "--client-metadata", "each key once"),
    ("--client-metadata", "campaign=spring, 2026", "--client-metadata", "got a list"),
    ("--user-context-data", "IpAddress={a=b}", "--user-context-data", "got a structure"),
    ("--request-id", "has space", "--request-id", "must contain only letters"),
    ("--request-id", "", "--request-id", "at least 1 character"),
    ("--request-id", LONG, "--request-id", "at most 128 characters"),
    ("--username", "file:///nonexistent/name.txt", "--username", "cannot read"),
    ("--username", "fileb://name.bin", "--username", "use file://"),
    ("--cli-input-json", "[1]", "--cli-input-json", "must hold an object"),
    ("--cli-input-json", "{not json", "--cli-input-json", "invalid JSON"),
    ("--cli-input-json", '{"Extra": 1}', "--cli-input-json", "Extra: unknown member"),
    ("--cli-input-json", '{"SecretHash": null}', "--cli-input-json", "omitted rather than null"),
    ("--cli-input-yaml", "a: [", "--cli-input-yaml", "invalid YAML"),
    ("--cli-input-yaml", "ClientId: 123", "--cli-input-yaml", "ClientId: Input should be"),
    ("--delay-seconds", "901", "--delay-seconds", "between 0 and 900"),
    ("--delay-seconds", "-1", "--delay-seconds", "between 0 and 900"),
    ("--delay-seconds", "soon", "--delay-seconds", "not an integer"),
    ("--message-group-id", "g", "--message-group-id", "only for FIFO queues"),
    ("--message-deduplication-id", "d", "--message-deduplication-id", "only for FIFO"),
    ("--query", "[[[", "--query", "invalid JMESPath expression"),
    ("--output", "xml", "--output", "invalid choice"),
    ("--wait", "0", "--wait", "more than 0"),
    ("--wait", "later", "--wait", "not a number"),
    ("--wait", "5", "--wait", "needs --results-queue-url"),
    ("--concurrency", "4", "--concurrency", "only with --from-file"),
    ("--validate-only", "--request-id=x", "--validate-only", "only with --from-file"),
    ("--queue-url", "just-a-name", "--queue-url", "must be a queue URL"),
    ("--endpoint-url", "localhost", "--endpoint-url", "http:// or https://"),
    ("--results-queue-url", "results", "--results-queue-url", "http:// or https://"),
    ("--region", "bad_region!", "--region", "not a valid region name"),
    ("--generate-cli-skeleton", "everything", "--generate-cli-skeleton", "invalid choice"),
]


@pytest.mark.parametrize(
    ("flag", "value", "named", "reason"),
    BAD_VALUES,
    ids=[f"{flag}={value[:20]}" for flag, value, _, _ in BAD_VALUES],
)
def test_bad_values_are_reported_against_their_parameter(
    capsys: pytest.CaptureFixture[str],
    queues: Queues,
    queue: str,
    flag: str,
    value: str,
    named: str,
    reason: str,
) -> None:
    required = (
        []
        if flag in ("--cli-input-json", "--cli-input-yaml")
        else [
            *(["--client-id", CLIENT_ID] if flag != "--client-id" else []),
            *(["--username", "jane"] if flag != "--username" else []),
        ]
    )
    run = run_cli(capsys, *base(queues, queue), *required, flag, value)
    assert run.status == 252
    assert f"error: argument {named}: " in run.err
    assert reason in run.err
    assert run.err.startswith("usage: ")
    if "@" in value or value in ("has space", "campaign=spring, 2026"):
        assert value not in run.err
        assert "spring" not in run.err
    assert run.out == ""
    assert queues.depth(queue) == 0


def test_every_problem_is_reported_at_once(
    capsys: pytest.CaptureFixture[str], queues: Queues, queue: str
) -> None:
    run = run_cli(
        capsys,
        *base(queues, queue),
        "--client-id",
        "bad id",
        "--username",
        "bad user",
        "--secret-hash",
        "!",
    )
    assert run.status == 252
    for flag in ("--client-id", "--username", "--secret-hash"):
        assert f"resend-client enqueue: error: argument {flag}: " in run.err


def test_required_parameters(
    capsys: pytest.CaptureFixture[str], queues: Queues, queue: str
) -> None:
    run = run_cli(capsys, *base(queues, queue))
    assert run.status == 252
    assert "error: the following arguments are required: --client-id, --username" in run.err
    run = run_cli(capsys, *base(queues, queue), "--cli-input-json", '{"Username": "jane"}')
    assert "error: the following arguments are required: --client-id" in run.err
    assert queues.depth(queue) == 0


def test_queue_url_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    run = run_cli(capsys, "--client-id", CLIENT_ID, "--username", "jane")
    assert run.status == 252
    assert "error: argument --queue-url: required (or set RESEND_QUEUE_URL)" in run.err


def test_sqs_errors_exit_254(capsys: pytest.CaptureFixture[str], queues: Queues) -> None:
    missing = f"{queues.endpoint_url}/123456789012/no-such-queue-{uuid.uuid4().hex}"
    run = run_cli(
        capsys,
        *base(queues, missing),
        "--client-id",
        CLIENT_ID,
        "--username",
        "jane",
    )
    assert run.status == 254  # the AWS CLI v2's status for an error answer
    assert "resend-client enqueue: error: " in run.err
    assert "NonExistentQueue" in run.err or "QueueDoesNotExist" in run.err
