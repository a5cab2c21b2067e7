"""The CloudFormation stack: lint-clean, and the resources the worker and its manifests expect."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .artifacts import (
    CLOUDFORMATION,
    PLACEHOLDERS,
    cfn_resource,
    cfn_resources_of_type,
    cloudformation,
    configmap_env,
    ecs_env,
    kube,
    lane_queue_urls,
    render,
    setting,
)
from .cfn_values import evaluate, get_att, ref

ENVIRONMENTS = {"kubernetes": configmap_env, "ecs": ecs_env}
# The request queue of each lane, by the setting that names it.
LANE_QUEUES = {"RESEND_QUEUE_URL": "Queue", "RESEND_BULK_QUEUE_URL": "BulkQueue"}


def test_cfn_lint_is_clean_including_informational_checks() -> None:
    lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run(
        [str(lint), "--include-checks", "I", "--", str(CLOUDFORMATION)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("target", sorted(ENVIRONMENTS))
def test_the_worker_settings_name_the_stacks_resources(target: str) -> None:
    env = ENVIRONMENTS[target]()
    template = cloudformation()
    assert env["RESEND_QUEUE_URL"] == render(ref(template, "Queue"))
    assert env["RESEND_BULK_QUEUE_URL"] == render(ref(template, "BulkQueue"))
    assert env["RESEND_DEAD_LETTER_QUEUE_URL"] == render(ref(template, "DeadLetterQueue"))
    assert env["RESEND_RESULT_TOPIC_ARN"] == render(ref(template, "ResultTopic"))
    assert env["RESEND_DEDUPE_BACKEND"] == "dynamodb"
    assert env["RESEND_DEDUPE_TABLE"] == ref(template, "DedupeTable")


@pytest.mark.parametrize("target", sorted(ENVIRONMENTS))
def test_every_request_queue_is_a_lane_the_worker_drains(target: str) -> None:
    """Each queue but the dead-letter one is named by a lane's setting: none is left undrained."""
    template = cloudformation()
    queues = {
        logical_id
        for logical_id, _ in cfn_resources_of_type("AWS::SQS::Queue")
        if logical_id != "DeadLetterQueue"
    }
    assert queues == set(LANE_QUEUES.values())
    drained = lane_queue_urls(ENVIRONMENTS[target]())
    assert drained == {
        setting_name: render(ref(template, logical_id))
        for setting_name, logical_id in LANE_QUEUES.items()
    }


def test_outputs_name_every_queue_and_the_topic() -> None:
    outputs = cloudformation()["Outputs"]
    assert outputs["QueueUrl"]["Value"] == {"Ref": "Queue"}
    assert outputs["BulkQueueUrl"]["Value"] == {"Ref": "BulkQueue"}
    assert outputs["DeadLetterQueueUrl"]["Value"] == {"Ref": "DeadLetterQueue"}
    assert outputs["ResultTopicArn"]["Value"] == {"Ref": "ResultTopic"}


@pytest.mark.parametrize("queue", sorted(LANE_QUEUES.values()))
@pytest.mark.parametrize("target", sorted(ENVIRONMENTS))
def test_redrive_leaves_the_worker_its_last_attempt(target: str, queue: str) -> None:
    # The worker answers "failed" itself at RESEND_MAX_ATTEMPTS receives; SQS must not move
    # the message to the DLQ (without a result) before that. Both lanes share the one DLQ.
    env = ENVIRONMENTS[target]()
    redrive = cfn_resource(queue)["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] > int(setting(env, "RESEND_MAX_ATTEMPTS"))
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}


@pytest.mark.parametrize("queue_id", sorted(LANE_QUEUES.values()))
@pytest.mark.parametrize("target", sorted(ENVIRONMENTS))
def test_queue_timing_matches_the_worker(target: str, queue_id: str) -> None:
    env = ENVIRONMENTS[target]()
    queue = cfn_resource(queue_id)["Properties"]
    dlq = cfn_resource("DeadLetterQueue")["Properties"]
    assert queue["VisibilityTimeout"] == int(setting(env, "RESEND_VISIBILITY_TIMEOUT_SECONDS"))
    # SQS must keep a request at least as long as the worker is willing to answer it.
    assert queue["MessageRetentionPeriod"] > int(setting(env, "RESEND_MAX_MESSAGE_AGE_SECONDS"))
    assert dlq["MessageRetentionPeriod"] >= queue["MessageRetentionPeriod"]
    assert queue["ReceiveMessageWaitTimeSeconds"] == int(
        setting(env, "RESEND_RECEIVE_WAIT_SECONDS")
    )


def test_queues_and_topic_are_encrypted_with_the_stacks_key() -> None:
    key = {"Fn::GetAtt": ["Key", "Arn"]}
    for logical_id in ("Queue", "BulkQueue", "DeadLetterQueue", "ResultTopic"):
        assert cfn_resource(logical_id)["Properties"]["KmsMasterKeyId"] == key, logical_id
    assert cfn_resource("Key")["Properties"]["EnableKeyRotation"] is True


def test_dedupe_table_shape() -> None:
    table = cfn_resource("DedupeTable")["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "pk", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_alarm_watches_the_dead_letter_queue() -> None:
    alarms = dict(cfn_resources_of_type("AWS::CloudWatch::Alarm"))
    template = cloudformation()
    dlq_name = get_att(template, "DeadLetterQueue", "QueueName")
    watched = [
        a["Properties"]
        for a in alarms.values()
        if a["Properties"]["Namespace"] == "AWS/SQS"
        and evaluate(template, a["Properties"]["Dimensions"])
        == [{"Name": "QueueName", "Value": dlq_name}]
    ]
    assert len(watched) == 1
    (alarm,) = watched
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["Threshold"] == 0


def _trusted_subjects(logical_id: str) -> list[str]:
    document = cfn_resource(logical_id)["Properties"]["AssumeRolePolicyDocument"]["Fn::Sub"]
    (statement,) = json.loads(document)["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    condition = statement["Condition"]["StringEquals"]
    assert condition["${EksOidcIssuer}:aud"] == "sts.amazonaws.com"
    subjects = condition["${EksOidcIssuer}:sub"]
    return subjects if isinstance(subjects, list) else [subjects]


def test_irsa_role_trusts_only_the_workers_service_account() -> None:
    role = cfn_resource("IrsaRole")
    assert role["Condition"] == "CreateIrsaRole"
    account = kube("ServiceAccount")["metadata"]["name"]
    assert _trusted_subjects("IrsaRole") == [
        f"system:serviceaccount:${{KubernetesNamespace}}:{account}"
    ]
    annotation = kube("ServiceAccount")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert annotation.endswith(":role/" + role["Properties"]["RoleName"])
    assert (
        kube("Namespace")["metadata"]["name"]
        == cloudformation()["Parameters"]["KubernetesNamespace"]["Default"]
    )


def test_keda_has_its_own_role_that_only_reads_the_queue_depth() -> None:
    role = cfn_resource("KedaScalerRole")
    assert role["Condition"] == "CreateIrsaRole"
    assert _trusted_subjects("KedaScalerRole") == [
        "system:serviceaccount:${KedaOperatorServiceAccount}"
    ]
    assert "ManagedPolicyArns" not in role["Properties"]
    (policy,) = role["Properties"]["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == ["sqs:GetQueueAttributes"]
    # Every lane's queue, since KEDA has a trigger for each (test_kubernetes checks those).
    assert statement["Resource"] == [
        {"Fn::GetAtt": [queue, "Arn"]} for queue in LANE_QUEUES.values()
    ]
    pod_identity = kube("TriggerAuthentication")["spec"]["podIdentity"]
    assert "identityOwner" not in pod_identity, "mutually exclusive with roleArn"
    assert render(pod_identity["roleArn"]) == (
        f"arn:aws:iam::{PLACEHOLDERS['AWS_ACCOUNT_ID']}:role/{role['Properties']['RoleName']}"
    )


def _statements(logical_id: str) -> dict[str, dict[str, Any]]:
    document = cfn_resource(logical_id)["Properties"]["PolicyDocument"]
    return {s["Sid"]: s for s in document["Statement"]}


@pytest.mark.parametrize(
    ("policy", "target", "key"),
    [
        ("QueuePolicy", {"Ref": "Queue"}, "Queues"),
        ("BulkQueuePolicy", {"Ref": "BulkQueue"}, "Queues"),
        ("DeadLetterQueuePolicy", {"Ref": "DeadLetterQueue"}, "Queues"),
        ("ResultTopicPolicy", {"Ref": "ResultTopic"}, "Topics"),
    ],
)
def test_queues_and_topic_refuse_requests_without_tls(
    policy: str, target: dict[str, str], key: str
) -> None:
    assert cfn_resource(policy)["Properties"][key] == [target]
    tls = _statements(policy)["TlsOnly"]
    assert tls["Effect"] == "Deny" and tls["Principal"] == "*"
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    actions = tls["Action"] if isinstance(tls["Action"], list) else [tls["Action"]]
    assert "sqs:*" in actions or {"sns:Publish", "sns:Subscribe"} <= set(actions)


@pytest.mark.parametrize(
    ("policy", "queue"), [("QueuePolicy", "Queue"), ("BulkQueuePolicy", "BulkQueue")]
)
def test_only_the_producers_may_send_requests(policy: str, queue: str) -> None:
    assert cfn_resource(policy)["Properties"]["Queues"] == [{"Ref": queue}]
    statements = _statements(policy)
    producers = {"Ref": "ProducerPrincipals"}
    assert cloudformation()["Parameters"]["ProducerPrincipals"]["Type"] == "CommaDelimitedList"
    allow, deny = statements["ProducersSend"], statements["NobodyElseSends"]
    assert (allow["Effect"], allow["Action"], allow["Principal"]) == (
        "Allow",
        "sqs:SendMessage",
        "*",
    )
    # The same principals in both: allowed exactly when not denied.
    assert allow["Condition"] == {"ArnLike": {"aws:PrincipalArn": producers}}
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", "sqs:SendMessage")
    assert deny["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": producers}}
    assert {s["Resource"]["Fn::GetAtt"][0] for s in statements.values()} == {queue}


def test_only_the_worker_publishes_and_only_subscribers_subscribe() -> None:
    statements = _statements("ResultTopicPolicy")
    publish = statements["OnlyTheWorkerPublishes"]
    assert (publish["Effect"], publish["Principal"], publish["Action"]) == (
        "Deny",
        "*",
        "sns:Publish",
    )
    condition, with_irsa, without = publish["Condition"]["ArnNotEquals"]["aws:PrincipalArn"][
        "Fn::If"
    ]
    assert condition == "CreateIrsaRole"
    task, irsa = {"Fn::GetAtt": ["TaskRole", "Arn"]}, {"Fn::GetAtt": ["IrsaRole", "Arn"]}
    assert (with_irsa, without) == ([task, irsa], [task])
    subscribers = {"Ref": "SubscriberPrincipals"}
    allow, deny = statements["SubscribersSubscribe"], statements["NobodyElseSubscribes"]
    assert allow["Principal"] == "*" and allow["Action"] == "sns:Subscribe"
    assert allow["Condition"] == {"ArnLike": {"aws:PrincipalArn": subscribers}}
    assert deny["Effect"] == "Deny" and deny["Action"] == "sns:Subscribe"
    assert deny["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": subscribers}}
    assert not any(
        s["Effect"] == "Allow" and "sns:Publish" in str(s["Action"]) for s in statements.values()
    )
