"""``--output`` in every format and ``--query``, on real sends; the renderers on nested data."""

from __future__ import annotations

import json

import jmespath
import pytest
import yaml
from resend_client.enqueue.output import render, render_text
from resend_client.enqueue.table import render_table

from .helpers import Queues, Run, run_cli

CLIENT_ID = "1example23456789"


def send(capsys: pytest.CaptureFixture[str], queues: Queues, queue: str, *extra: str) -> Run:
    return run_cli(
        capsys,
        "--queue-url",
        queue,
        "--endpoint-url",
        queues.endpoint_url,
        "--client-id",
        CLIENT_ID,
        "--username",
        "jane",
        *extra,
    )


def sent_ids(queues: Queues, queue: str) -> dict[str, str]:
    """RequestId and MessageId of the one message on the queue, as SQS has them."""
    [message] = queues.drain(queue)
    return {
        "RequestId": json.loads(message["Body"])["RequestId"],
        "MessageId": message["MessageId"],
    }


@pytest.mark.integration
def test_json_is_the_default_and_indented(
    capsys: pytest.CaptureFixture[str], queues: Queues
) -> None:
    queue = queues.create()
    run = send(capsys, queues, queue)
    assert run.status == 0, run.err
    assert run.json() == sent_ids(queues, queue)
    assert run.out.startswith('{\n    "RequestId": ')


@pytest.mark.integration
def test_yaml(capsys: pytest.CaptureFixture[str], queues: Queues) -> None:
    queue = queues.create()
    run = send(capsys, queues, queue, "--output", "yaml")
    assert run.status == 0, run.err
    assert yaml.safe_load(run.out) == sent_ids(queues, queue)


@pytest.mark.integration
def test_text_is_tab_separated_in_key_order(
    capsys: pytest.CaptureFixture[str], queues: Queues
) -> None:
    queue = queues.create()
    run = send(capsys, queues, queue, "--output", "text")
    assert run.status == 0, run.err
    ids = sent_ids(queues, queue)
    assert run.out == f"{ids['MessageId']}\t{ids['RequestId']}\n"


@pytest.mark.integration
def test_table(
    capsys: pytest.CaptureFixture[str], queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    queue = queues.create()
    run = send(capsys, queues, queue, "--output", "table")
    assert run.status == 0, run.err
    ids = sent_ids(queues, queue)
    lines = run.out.splitlines()
    width = len(lines[0])
    assert lines[0] == "-" * width
    assert all(len(line) == width for line in lines)
    assert lines[1].strip("| ") == "Enqueue"
    header = [cell.strip() for cell in lines[3].strip("|").split("|")]
    values = [cell.strip() for cell in lines[5].strip("|").split("|")]
    assert header == ["MessageId", "RequestId"]
    assert values == [ids["MessageId"], ids["RequestId"]]


@pytest.mark.integration
def test_table_turns_vertical_on_a_narrow_terminal(
    capsys: pytest.CaptureFixture[str], queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    queue = queues.create()
    run = send(capsys, queues, queue, "--output", "table")
    ids = sent_ids(queues, queue)
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in run.out.splitlines()[2:]
        if line.startswith("|  ")
    ]
    assert run.out.splitlines()[1].strip("| ") == "Enqueue"
    assert rows == [["MessageId", ids["MessageId"]], ["RequestId", ids["RequestId"]]]
    assert max(len(line) for line in run.out.splitlines()) <= 60


@pytest.mark.integration
def test_default_output_from_aws_default_output(
    capsys: pytest.CaptureFixture[str], queues: Queues, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_OUTPUT", "text")
    queue = queues.create()
    run = send(capsys, queues, queue)
    assert run.out.count("\t") == 1


@pytest.mark.integration
@pytest.mark.parametrize(
    ("query", "output", "expected"),
    [
        ("RequestId", "text", "{RequestId}\n"),
        ("RequestId", "json", '"{RequestId}"\n'),
        ("RequestId", "yaml", '"{RequestId}"\n'),  # a lone scalar as JSON, as the AWS CLI
        ("{Id: MessageId}", "json", '{{\n    "Id": "{MessageId}"\n}}\n'),
        ("[RequestId, MessageId]", "text", "{RequestId}\t{MessageId}\n"),
        ("Nothing", "json", "null\n"),
        ("Nothing", "text", "None\n"),
        ("Nothing", "table", ""),
    ],
)
def test_query_then_format(
    capsys: pytest.CaptureFixture[str],
    queues: Queues,
    query: str,
    output: str,
    expected: str,
) -> None:
    queue = queues.create()
    run = send(capsys, queues, queue, "--query", query, "--output", output)
    assert run.status == 0, run.err
    assert run.out == expected.format(**sent_ids(queues, queue))


@pytest.mark.integration
def test_fifo_output_has_the_sequence_number(
    capsys: pytest.CaptureFixture[str], queues: Queues
) -> None:
    queue = queues.create(fifo=True)
    run = send(capsys, queues, queue, "--output", "text")
    [message] = queues.drain(queue)
    fields = run.out.rstrip("\n").split("\t")
    # Key order: MessageId, RequestId, SequenceNumber.
    assert fields[0] == message["MessageId"]
    assert fields[1] == json.loads(message["Body"])["RequestId"]
    assert fields[2] == message["Attributes"]["SequenceNumber"]


# The renderers on the nested shape --wait prints.

WAITED = {
    "RequestId": "r-1",
    "MessageId": "m-1",
    "Result": {
        "Outcome": "sent",
        "RequestId": "r-1",
        "Attempts": 1,
        "CodeDeliveryDetails": {"Destination": "j***@e***", "DeliveryMedium": "EMAIL"},
    },
}


def test_text_puts_nested_members_on_tagged_lines() -> None:
    assert render_text(WAITED) == (
        "m-1\tr-1\nRESULT\t1\tsent\tr-1\nCODEDELIVERYDETAILS\tEMAIL\tj***@e***\n"
    )


def test_text_of_lists() -> None:
    data = {"Items": [{"a": 1, "b": 2}, {"a": 3}], "Tags": ["x", "y"]}
    assert render_text(data) == "ITEMS\t1\t2\nITEMS\t3\t\nTAGS\tx\nTAGS\ty\n"
    assert render_text(["x", "y"]) == "x\ty\n"


def test_table_nests_sections_inside_borders() -> None:
    table = render_table(WAITED, "Enqueue", width=200)
    lines = table.splitlines()
    assert len({len(line) for line in lines}) == 1
    titles = [
        line.strip("| ") for line in lines if line.strip("| ") in ("Result", "CodeDeliveryDetails")
    ]
    assert titles == ["Result", "CodeDeliveryDetails"]
    assert any(line.startswith("||  1 ") for line in lines)  # Result's values, one border in
    assert any(line.startswith("|||  EMAIL") for line in lines)  # two borders in


def test_query_applies_before_any_format() -> None:
    query = jmespath.compile("Result.Outcome")
    assert render(WAITED, "json", query=query, title="t") == '"sent"\n'
    assert render(WAITED, "text", query=query, title="t") == "sent\n"
