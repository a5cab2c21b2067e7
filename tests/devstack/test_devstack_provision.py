"""provision() creates resources that work together the way the worker needs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from devstack import DevResources, DevStack, provision
from worker.settings import load_settings

from .devstack_checks import check_success, secret_hash

pytestmark = pytest.mark.integration


async def _receive_one(sqs: Any, queue_url: str) -> dict[str, Any]:
    answer = await sqs.receive_message(
        QueueUrl=queue_url, WaitTimeSeconds=5, MessageAttributeNames=["All"]
    )
    messages: list[dict[str, Any]] = answer.get("Messages", [])
    assert len(messages) == 1
    return messages[0]


async def test_topic_delivers_raw_messages_to_the_results_queue(
    resources: DevResources, aws_client: Callable[..., Any]
) -> None:
    async with aws_client("sns") as sns, aws_client("sqs") as sqs:
        await sns.publish(
            TopicArn=resources.result_topic_arn,
            Message='{"status": "sent"}',
            MessageAttributes={"status": {"DataType": "String", "StringValue": "sent"}},
        )
        message = await _receive_one(sqs, resources.results_queue_url)
    assert message["Body"] == '{"status": "sent"}'  # raw: no SNS envelope
    assert message["MessageAttributes"]["status"]["StringValue"] == "sent"


async def test_request_queue_has_the_redrive_policy_and_visibility(
    resources: DevResources, aws_client: Callable[..., Any]
) -> None:
    async with aws_client("sqs") as sqs:
        attributes = (
            await sqs.get_queue_attributes(QueueUrl=resources.queue_url, AttributeNames=["All"])
        )["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": resources.dead_letter_queue_arn,
        "maxReceiveCount": 20,
    }
    assert attributes["VisibilityTimeout"] == "30"
    assert attributes["QueueArn"] == resources.queue_arn


async def test_redrive_moves_a_message_to_the_dlq(
    devstack: DevStack, aws_client: Callable[..., Any]
) -> None:
    devstack.reset()
    stack = await provision(devstack.endpoint_url, max_receive_count=1, visibility_timeout=0)
    async with aws_client("sqs") as sqs:
        await sqs.send_message(QueueUrl=stack.queue_url, MessageBody="poison")
        await _receive_one(sqs, stack.queue_url)  # receive 1 of 1; visibility 0 returns it
        again = await sqs.receive_message(QueueUrl=stack.queue_url, WaitTimeSeconds=0)
        assert "Messages" not in again
        moved = await _receive_one(sqs, stack.dead_letter_queue_url)
    assert moved["Body"] == "poison"


async def test_fifo_variant(devstack: DevStack, aws_client: Callable[..., Any]) -> None:
    devstack.reset()
    stack = await provision(devstack.endpoint_url, fifo=True)
    for url in (stack.queue_url, stack.dead_letter_queue_url, stack.results_queue_url):
        assert url.endswith(".fifo")
    assert stack.result_topic_arn.endswith(".fifo")
    async with aws_client("sns") as sns, aws_client("sqs") as sqs:
        attributes = (
            await sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])
        )["Attributes"]
        assert attributes["FifoQueue"] == "true"
        assert attributes["ContentBasedDeduplication"] == "true"
        topic = (await sns.get_topic_attributes(TopicArn=stack.result_topic_arn))["Attributes"]
        assert topic["FifoTopic"] == "true"
        await sns.publish(
            TopicArn=stack.result_topic_arn, Message="result", MessageGroupId="user-0000"
        )
        message = await _receive_one(sqs, stack.results_queue_url)
    assert message["Body"] == "result"


async def test_secret_in_secrets_manager_computes_a_valid_secret_hash(
    resources: DevResources, aws_client: Callable[..., Any], cognito_idp: Any
) -> None:
    async with aws_client("secretsmanager") as secretsmanager:
        answer = await secretsmanager.get_secret_value(SecretId=resources.client_secrets_secret_id)
    secrets = json.loads(answer["SecretString"])
    assert secrets == {resources.client_id: resources.client_secret}
    user = resources.unconfirmed_users[0].username
    response = await cognito_idp.resend_confirmation_code(
        ClientId=resources.client_id,
        Username=user,
        SecretHash=secret_hash(secrets[resources.client_id], user, resources.client_id),
    )
    check_success(response)


async def test_public_client_has_no_secret(
    resources: DevResources, aws_client: Callable[..., Any]
) -> None:
    async with aws_client("cognito-idp") as idp:
        client = (
            await idp.describe_user_pool_client(
                UserPoolId=resources.user_pool_id, ClientId=resources.public_client_id
            )
        )["UserPoolClient"]
        pool = (await idp.describe_user_pool(UserPoolId=resources.user_pool_id))["UserPool"]
    assert "ClientSecret" not in client
    assert pool["AutoVerifiedAttributes"] == ["email"]


async def test_dedupe_table_has_its_key_and_ttl(
    resources: DevResources, aws_client: Callable[..., Any]
) -> None:
    async with aws_client("dynamodb") as dynamodb:
        table = (await dynamodb.describe_table(TableName=resources.dedupe_table))["Table"]
        ttl = (await dynamodb.describe_time_to_live(TableName=resources.dedupe_table))[
            "TimeToLiveDescription"
        ]
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}


async def test_hundreds_of_users_in_the_states_asked_for(
    devstack: DevStack, aws_client: Callable[..., Any]
) -> None:
    devstack.reset()
    stack = await provision(devstack.endpoint_url, users=250, user_prefix="load")
    assert len(stack.unconfirmed_users) == 250
    assert [u.username for u in stack.confirmed_users] == ["load-confirmed"]
    statuses: dict[str, str] = {}
    async with aws_client("cognito-idp") as idp:
        paginator = idp.get_paginator("list_users")
        async for page in paginator.paginate(UserPoolId=stack.user_pool_id):
            for user in page["Users"]:
                statuses[user["Username"]] = user["UserStatus"]
    assert statuses == {
        u.username: "CONFIRMED" if u.confirmed else "UNCONFIRMED" for u in stack.users
    }
    assert stack.users[7].email == "load-0007@example.com"


async def test_worker_env_is_what_the_settings_need(
    resources: DevResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = resources.worker_env()
    assert env == {
        "RESEND_QUEUE_URL": resources.queue_url,
        "RESEND_RESULT_TOPIC_ARN": resources.result_topic_arn,
        "RESEND_DEAD_LETTER_QUEUE_URL": resources.dead_letter_queue_url,
        "RESEND_CLIENT_SECRETS_SECRET_ID": resources.client_secrets_secret_id,
        "RESEND_DEDUPE_TABLE": resources.dedupe_table,
        "AWS_ENDPOINT_URL": resources.endpoint_url,
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.queue_url == resources.queue_url
    assert settings.result_topic_arn == resources.result_topic_arn


def test_printed_form_hides_the_client_secret(resources: DevResources) -> None:
    printed = json.dumps(resources.to_json())
    assert resources.client_secret not in printed
    assert resources.client_id in printed
    assert resources.to_json(reveal_secret=True)["client_secret"] == resources.client_secret
