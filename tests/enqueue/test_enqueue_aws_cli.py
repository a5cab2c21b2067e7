"""The AWS CLI's manners: exit codes, global options, configuration, unreachable endpoints.

Each test runs the real command as a process against the devstack (or against nothing at all)
and asserts its exit status and output.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from .helpers import Queues, command

pytestmark = pytest.mark.integration

CLIENT_ID = "1example23456789"


def base(queues: Queues, queue: str) -> list[str]:
    return ["enqueue", "--queue-url", queue, "--endpoint-url", queues.endpoint_url]


def one(queues: Queues, queue: str) -> list[str]:
    return [*base(queues, queue), "--client-id", CLIENT_ID, "--username", "jane"]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Exit codes: the AWS CLI v2's.


def test_a_bad_value_exits_252(queues: Queues) -> None:
    queue = queues.create()
    run = command(*base(queues, queue), "--client-id", "bad id", "--username", "jane")
    assert run.status == 252
    assert "argument --client-id: " in run.err
    assert queues.depth(queue) == 0


def test_an_unknown_option_exits_252() -> None:
    run = command("enqueue", "--no-such-option")
    assert run.status == 252
    assert "unrecognized arguments" in run.err


def test_a_missing_profile_exits_253(queues: Queues) -> None:
    queue = queues.create()
    run = command(*one(queues, queue), "--profile", "no-such-profile")
    assert run.status == 253, run.err[-600:]
    assert "profile could not be found" in run.err
    assert "no-such-profile" not in run.err  # what was written is not echoed
    assert queues.depth(queue) == 0


def test_no_region_exits_253(queues: Queues) -> None:
    queue = queues.create()
    run = command(*one(queues, queue), env={"AWS_REGION": "", "AWS_DEFAULT_REGION": ""})
    assert run.status == 253, run.err[-600:]
    assert "region" in run.err


def test_a_missing_queue_exits_254(queues: Queues, tmp_path: Path) -> None:
    missing = queues.create().rsplit("/", 1)[0] + "/no-such-queue"
    run = command(*one(queues, missing))
    assert run.status == 254, run.err[-600:]
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"ClientId": CLIENT_ID, "Username": "jane"}) + "\n")
    bulk = command(*base(queues, missing), "--from-file", str(path))
    assert bulk.status == 254, bulk.err
    assert bulk.json()["Failed"] == 1


# Unreachable endpoints fail fast.


def test_one_request_to_an_unreachable_endpoint_fails_within_the_aws_clis_time() -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    run = command(
        "enqueue",
        "--queue-url",
        f"{endpoint}/123456789012/q",
        "--endpoint-url",
        endpoint,
        "--client-id",
        CLIENT_ID,
        "--username",
        "jane",
    )
    elapsed = time.monotonic() - started
    assert run.status == 255, run.err[-600:]
    assert "ConnectionError" in run.err
    assert elapsed < 9, elapsed
    assert "could not connect to the endpoint" in run.err  # the problem, in the table's words


def test_bulk_to_an_unreachable_endpoint_stops_early(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    path = tmp_path / "r.jsonl"
    path.write_text(
        "".join(
            json.dumps({"ClientId": CLIENT_ID, "Username": f"u-{i}"}) + "\n" for i in range(1000)
        )
    )
    started = time.monotonic()
    run = command(
        "enqueue",
        "--queue-url",
        f"{endpoint}/123456789012/q",
        "--endpoint-url",
        endpoint,
        "--from-file",
        str(path),
    )
    elapsed = time.monotonic() - started
    assert run.status == 255, run.err[-600:]
    assert run.json()["Failed"] == 1000
    assert elapsed < 20, elapsed


# Global options.


@pytest.mark.parametrize(
    "options",
    [
        ["--no-verify-ssl"],
        ["--cli-read-timeout", "30"],
        ["--cli-connect-timeout", "3"],
        ["--color", "off"],
        ["--no-paginate"],
        ["--no-cli-pager"],
        ["--no-cli-auto-prompt"],
    ],
)
def test_global_options_are_accepted(queues: Queues, options: list[str]) -> None:
    queue = queues.create()
    run = command(*one(queues, queue), *options)
    assert run.status == 0, run.err[-600:]
    assert queues.depth(queue) == 1


def test_global_options_before_the_command(queues: Queues) -> None:
    queue = queues.create()
    args = one(queues, queue)
    run = command("--no-cli-pager", "--output", "text", *args)
    assert run.status == 0, run.err[-600:]
    assert len(run.out.split("\t")) == 2


def test_ca_bundle_must_be_readable(queues: Queues, tmp_path: Path) -> None:
    queue = queues.create()
    import certifi

    assert command(*one(queues, queue), "--ca-bundle", certifi.where()).status == 0
    missing = command(*one(queues, queue), "--ca-bundle", str(tmp_path / "none.pem"))
    assert missing.status == 252
    assert "argument --ca-bundle: " in missing.err
    assert queues.depth(queue) == 1


def test_no_sign_request_is_refused_with_a_reason(queues: Queues) -> None:
    queue = queues.create()
    run = command(*one(queues, queue), "--no-sign-request")
    assert run.status == 252
    assert "argument --no-sign-request: " in run.err and "signed" in run.err
    assert queues.depth(queue) == 0


def test_version_under_enqueue() -> None:
    run = command("enqueue", "--version")
    assert run.status == 0
    assert run.out.startswith("resend-client ")


def test_debug_logs_the_calls_without_secrets(queues: Queues) -> None:
    queue = queues.create()
    secret = "sEcReT-Access-Key-0123456789"
    run = command(*one(queues, queue), "--debug", env={"AWS_SECRET_ACCESS_KEY": secret})
    assert run.status == 0, run.err[-600:]
    assert "SendMessageBatch" in run.err
    assert "region us-east-1" in run.err
    assert secret not in run.err
    assert "jane" not in run.err  # no bodies


# Configuration.


def config_file(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / "config"
    path.write_text(text)
    return {"AWS_CONFIG_FILE": str(path)}


def test_output_from_the_config_file_and_profiles(queues: Queues, tmp_path: Path) -> None:
    queue = queues.create()
    keys = "aws_access_key_id = testing\naws_secret_access_key = testing\n"
    env = config_file(tmp_path, f"[default]\noutput = text\n[profile y]\noutput = yaml\n{keys}")
    text = command(*one(queues, queue), env=env)
    assert text.status == 0, text.err
    assert len(text.out.strip().split("\t")) == 2
    yaml = command(*one(queues, queue), "--profile", "y", env=env)
    assert yaml.out.startswith("MessageId: ") or yaml.out.startswith("RequestId: ")
    from_env = command(*one(queues, queue), env={**env, "AWS_DEFAULT_OUTPUT": "json"})
    assert json.loads(from_env.out)
    flag = command(*one(queues, queue), "--output", "json", "--profile", "y", env=env)
    assert json.loads(flag.out)


def test_a_bad_output_setting_exits_253(queues: Queues, tmp_path: Path) -> None:
    queue = queues.create()
    env = config_file(tmp_path, "[default]\noutput = xml\n")
    run = command(*one(queues, queue), env=env)
    assert run.status == 253
    assert queues.depth(queue) == 0


@pytest.mark.parametrize(
    ("env", "flag", "expected"),
    [
        ({"AWS_REGION": "eu-west-1", "AWS_DEFAULT_REGION": "eu-west-2"}, [], "eu-west-1"),
        ({"AWS_REGION": "", "AWS_DEFAULT_REGION": "eu-west-2"}, [], "eu-west-2"),
        ({"AWS_REGION": "", "AWS_DEFAULT_REGION": ""}, [], "eu-north-1"),
        ({"AWS_REGION": "", "AWS_DEFAULT_REGION": ""}, ["--profile", "p"], "ap-south-1"),
        ({"AWS_REGION": "eu-west-1"}, ["--region", "sa-east-1"], "sa-east-1"),
        ({"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "eu-west-2"}, [], "us-east-1"),
    ],
)
def test_region_precedence_is_the_aws_clis(
    queues: Queues, tmp_path: Path, env: dict[str, str], flag: list[str], expected: str
) -> None:
    queue = queues.create()
    env = {
        **config_file(
            tmp_path,
            "[default]\nregion = eu-north-1\n[profile p]\nregion = ap-south-1\n"
            "aws_access_key_id = testing\naws_secret_access_key = testing\n",
        ),
        **env,
    }
    run = command(*one(queues, queue), "--debug", *flag, env=env)
    # moto keeps queues per region: only the region of the queue finds it.
    assert run.status == (0 if expected == "us-east-1" else 254), run.err[-600:]
    assert f"SQS in region {expected}\n" in run.err


def test_yaml_stream(queues: Queues) -> None:
    queue = queues.create()
    run = command(*one(queues, queue), "--output", "yaml-stream")
    assert run.status == 0, run.err[-600:]
    assert run.out.startswith("- RequestId: ")
    assert "\n  MessageId: " in run.out


# Small parsing differences.


@pytest.mark.parametrize(
    ("value", "expected"),
    [("a=1,,b=2", {"a": "1", "b": "2"}), ("=1", {"": "1"})],
)
def test_shorthand_the_aws_cli_accepts(queues: Queues, value: str, expected: object) -> None:
    queue = queues.create()
    run = command(*one(queues, queue), "--client-metadata", value)
    assert run.status == 0, run.err[-600:]
    [body] = queues.bodies(queue)
    assert body["ClientMetadata"] == expected


def test_shorthand_with_a_leading_space_is_refused(queues: Queues) -> None:
    queue = queues.create()
    run = command(*one(queues, queue), "--client-metadata", " a=b")
    assert run.status == 252
    assert "argument --client-metadata: invalid shorthand syntax" in run.err


def test_a_file_value_with_a_trailing_newline_names_the_newline(
    queues: Queues, tmp_path: Path
) -> None:
    queue = queues.create()
    path = tmp_path / "id.txt"
    path.write_text(CLIENT_ID + "\n")
    run = command(*base(queues, queue), "--client-id", f"file://{path}", "--username", "jane")
    assert run.status == 252
    assert "newline" in run.err
    assert CLIENT_ID not in run.err
