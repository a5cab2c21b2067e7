"""Everything the worker needs, created in a devstack: queues, topic, user pool, secret, table.

The same shape as production (a DLQ with a redrive policy, raw SNS delivery to a results queue,
an app client with a secret kept in Secrets Manager) so tests and the demo exercise the real
wiring, only against moto.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
from dataclasses import dataclass
from typing import Any

from aiobotocore.session import AioSession, get_session
from botocore.config import Config

from devstack.client import AsyncDevStackAdmin, DevUser

DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_PASSWORD = "Devstack-Passw0rd!"  # noqa: S105 (a made-up user's password in a local stack)


@dataclass(frozen=True)
class DevResources:
    """Names, URLs, ARNs and ids of one provisioned set of resources."""

    endpoint_url: str
    region: str
    fifo: bool
    queue_url: str
    queue_arn: str
    bulk_queue_url: str
    bulk_queue_arn: str
    dead_letter_queue_url: str
    dead_letter_queue_arn: str
    result_topic_arn: str
    results_queue_url: str
    results_queue_arn: str
    user_pool_id: str
    client_id: str
    client_secret: str
    public_client_id: str
    client_secrets_secret_id: str
    dedupe_table: str
    users: tuple[DevUser, ...]

    @property
    def unconfirmed_users(self) -> tuple[DevUser, ...]:
        return tuple(u for u in self.users if not u.confirmed)

    @property
    def confirmed_users(self) -> tuple[DevUser, ...]:
        return tuple(u for u in self.users if u.confirmed)

    def worker_env(self, *, bulk_lane: bool = False) -> dict[str, str]:
        """The environment a worker process needs to run against this stack.

        The bulk queue always exists; the worker drains it only with ``bulk_lane``.
        """
        lanes = {"RESEND_BULK_QUEUE_URL": self.bulk_queue_url} if bulk_lane else {}
        return {
            **lanes,
            "RESEND_QUEUE_URL": self.queue_url,
            "RESEND_RESULT_TOPIC_ARN": self.result_topic_arn,
            "RESEND_DEAD_LETTER_QUEUE_URL": self.dead_letter_queue_url,
            "RESEND_CLIENT_SECRETS_SECRET_ID": self.client_secrets_secret_id,
            "RESEND_DEDUPE_TABLE": self.dedupe_table,
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        }

    def to_json(self, *, reveal_secret: bool = False) -> dict[str, Any]:
        """For printing; the client secret is left out unless asked for."""
        data = dataclasses.asdict(self)
        if not reveal_secret:
            data["client_secret"] = f"<in Secrets Manager: {self.client_secrets_secret_id}>"
        return data


@functools.cache
def _session() -> AioSession:
    """One session for every provision: loading the five service models costs ~0.13 s."""
    return get_session()


def _suffix(fifo: bool) -> str:
    return ".fifo" if fifo else ""


async def _queues(
    sqs: Any, sns: Any, name: str, fifo: bool, max_receive: int, visibility: int
) -> dict[str, str]:
    fifo_attrs = {"FifoQueue": "true", "ContentBasedDeduplication": "true"} if fifo else {}

    async def create(queue_name: str, **attributes: str) -> tuple[str, str]:
        url = (
            await sqs.create_queue(
                QueueName=queue_name + _suffix(fifo), Attributes={**fifo_attrs, **attributes}
            )
        )["QueueUrl"]
        arn = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]))[
            "Attributes"
        ]["QueueArn"]
        return url, arn

    async def create_topic() -> str:
        attributes = {"FifoTopic": "true", "ContentBasedDeduplication": "true"} if fifo else {}
        topic = await sns.create_topic(Name=f"{name}-results{_suffix(fifo)}", Attributes=attributes)
        return str(topic["TopicArn"])

    async def create_requests_queue(dlq_arn: str, lane: str = "") -> tuple[str, str]:
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive)}
        return await create(
            f"{name}-requests{lane}",
            RedrivePolicy=json.dumps(redrive),
            VisibilityTimeout=str(visibility),
        )

    async def subscribe_results(topic_arn: str, results_url: str, results_arn: str) -> None:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": results_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
        await sqs.set_queue_attributes(
            QueueUrl=results_url, Attributes={"Policy": json.dumps(policy)}
        )
        await sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=results_arn,
            Attributes={"RawMessageDelivery": "true"},
        )

    (dlq_url, dlq_arn), (results_url, results_arn), topic_arn = await asyncio.gather(
        create(f"{name}-requests-dlq"), create(f"{name}-results"), create_topic()
    )
    (queue_url, queue_arn), (bulk_url, bulk_arn), _ = await asyncio.gather(
        create_requests_queue(dlq_arn),
        # The bulk lane: same redrive policy and dead-letter queue, drained after the first.
        create_requests_queue(dlq_arn, "-bulk"),
        subscribe_results(topic_arn, results_url, results_arn),
    )
    return {
        "queue_url": queue_url,
        "queue_arn": queue_arn,
        "bulk_queue_url": bulk_url,
        "bulk_queue_arn": bulk_arn,
        "dead_letter_queue_url": dlq_url,
        "dead_letter_queue_arn": dlq_arn,
        "result_topic_arn": topic_arn,
        "results_queue_url": results_url,
        "results_queue_arn": results_arn,
    }


async def _cognito(
    idp: Any, admin: AsyncDevStackAdmin, name: str, users: int, prefix: str
) -> tuple[dict[str, str], tuple[DevUser, ...]]:
    pool_id = (
        await idp.create_user_pool(PoolName=f"{name}-users", AutoVerifiedAttributes=["email"])
    )["UserPool"]["Id"]
    secret_client = (
        await idp.create_user_pool_client(
            UserPoolId=pool_id, ClientName=f"{name}-worker", GenerateSecret=True
        )
    )["UserPoolClient"]
    public_client = (
        await idp.create_user_pool_client(UserPoolId=pool_id, ClientName=f"{name}-public")
    )["UserPoolClient"]

    # The confirmed user goes the way a real one does; the many unconfirmed ones go in bulk.
    confirmed = DevUser(f"{prefix}-confirmed", f"{prefix}-confirmed@example.com", True)
    await idp.sign_up(
        ClientId=public_client["ClientId"],
        Username=confirmed.username,
        Password=_PASSWORD,
        UserAttributes=[{"Name": "email", "Value": confirmed.email}],
    )
    await idp.admin_confirm_sign_up(UserPoolId=pool_id, Username=confirmed.username)
    pending = tuple(
        DevUser(f"{prefix}-{i:04d}", f"{prefix}-{i:04d}@example.com") for i in range(users)
    )
    if pending:
        await admin.add_users(pool_id, pending)
    ids = {
        "user_pool_id": pool_id,
        "client_id": secret_client["ClientId"],
        "client_secret": secret_client["ClientSecret"],
        "public_client_id": public_client["ClientId"],
    }
    return ids, (*pending, confirmed)


async def _dedupe_table(dynamodb: Any, table: str) -> None:
    await dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    await dynamodb.update_time_to_live(
        TableName=table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )


async def provision(
    endpoint_url: str,
    region: str = "us-east-1",
    *,
    name: str = "resend",
    fifo: bool = False,
    users: int = 3,
    user_prefix: str = "user",
    max_receive_count: int = 20,
    visibility_timeout: int = 30,
) -> DevResources:
    """Create one set of resources named after ``name``; names must be unused in the stack.

    ``users`` unconfirmed users ``<user_prefix>-0000``... (email ``<username>@example.com``)
    plus one confirmed ``<user_prefix>-confirmed``.
    """
    session = _session()
    config = Config(retries={"mode": "standard", "total_max_attempts": 3})
    kwargs: dict[str, Any] = {
        "endpoint_url": endpoint_url,
        "region_name": region,
        "config": config,
        **DUMMY_CREDENTIALS,
    }
    admin = AsyncDevStackAdmin(endpoint_url)
    secret_id = f"{name}/client-secrets"
    table = f"{name}-dedupe"
    async with (
        session.create_client("sqs", **kwargs) as sqs,
        session.create_client("sns", **kwargs) as sns,
        session.create_client("cognito-idp", **kwargs) as idp,
        session.create_client("secretsmanager", **kwargs) as secretsmanager,
        session.create_client("dynamodb", **kwargs) as dynamodb,
    ):
        queues, (ids, created), _ = await asyncio.gather(
            _queues(sqs, sns, name, fifo, max_receive_count, visibility_timeout),
            _cognito(idp, admin, name, users, user_prefix),
            _dedupe_table(dynamodb, table),
        )
        await secretsmanager.create_secret(
            Name=secret_id, SecretString=json.dumps({ids["client_id"]: ids["client_secret"]})
        )
    return DevResources(
        endpoint_url=endpoint_url,
        region=region,
        fifo=fifo,
        client_secrets_secret_id=secret_id,
        dedupe_table=table,
        users=created,
        **queues,
        **ids,
    )
