"""The SQS fault knobs over real HTTP: refused while a rule lasts, served again afterwards."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from devstack import DevResources, DevStackAdmin, DevStackAdminError
from devstack.provision import DUMMY_CREDENTIALS

from .conftest import aws_session

pytestmark = pytest.mark.integration
NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


def sqs_client(resources: DevResources) -> Any:
    # The stubs type a client only for literal credentials; the devstack's are a plain dict.
    session: Any = aws_session()
    return session.create_client(
        "sqs",
        region_name=resources.region,
        endpoint_url=resources.endpoint_url,
        config=NO_RETRIES,
        **DUMMY_CREDENTIALS,
    )


async def test_delete_refused_for_a_while_then_served(
    resources: DevResources, devstack_admin: DevStackAdmin
) -> None:
    async with sqs_client(resources) as sqs:
        await sqs.send_message(QueueUrl=resources.queue_url, MessageBody="one")
        [message] = (await sqs.receive_message(QueueUrl=resources.queue_url))["Messages"]
        devstack_admin.fail_sqs(["DeleteMessage", "DeleteMessageBatch"], 1.0, "requests")
        with pytest.raises(ClientError) as caught:
            await sqs.delete_message(
                QueueUrl=resources.queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        assert caught.value.response["Error"]["Code"] == "InternalError"
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        # Other operations and other queues are untouched.
        await sqs.send_message(QueueUrl=resources.dead_letter_queue_url, MessageBody="x")
        await asyncio.sleep(1.1)
        await sqs.delete_message(
            QueueUrl=resources.queue_url, ReceiptHandle=message["ReceiptHandle"]
        )
    state = devstack_admin.sqs_faults()
    assert state == {"rules": [], "refused": {"DeleteMessage": 1}}


async def test_send_to_one_queue_only(
    resources: DevResources, devstack_admin: DevStackAdmin
) -> None:
    devstack_admin.fail_sqs(["SendMessage"], 30, "-dlq")
    try:
        async with sqs_client(resources) as sqs:
            with pytest.raises(ClientError):
                await sqs.send_message(QueueUrl=resources.dead_letter_queue_url, MessageBody="x")
            await sqs.send_message(QueueUrl=resources.queue_url, MessageBody="fine")
    finally:
        devstack_admin.reset_sqs()
    assert devstack_admin.sqs_faults() == {"rules": [], "refused": {}}


@pytest.mark.parametrize(
    "rule",
    [
        {"operations": ["DeleteQueue"], "seconds": 1},
        {"operations": [], "seconds": 1},
        {"operations": ["SendMessage"], "seconds": -1},
        {"operations": ["SendMessage"], "seconds": 1, "typo": 1},
    ],
)
def test_bad_rules_are_refused(
    resources: DevResources, devstack_admin: DevStackAdmin, rule: dict[str, Any]
) -> None:
    with pytest.raises(DevStackAdminError):
        devstack_admin._call("POST", "sqs/faults", {"rules": [rule]})
