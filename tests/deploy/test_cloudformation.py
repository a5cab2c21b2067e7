"""The CloudFormation stack: lint-clean, and the resources the worker and its manifests expect."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .artifacts import (
    CLOUDFORMATION,
    cfn_resource,
    cfn_resources_of_type,
    cloudformation,
    configmap_env,
    ecs_env,
    kube,
    render,
    setting,
)
from .cfn_values import evaluate, get_att, ref

ENVIRONMENTS = {"kubernetes": configmap_env, "ecs": ecs_env}


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
    assert env["RESEND_DEAD_LETTER_QUEUE_URL"] == render(ref(template, "DeadLetterQueue"))
    assert env["RESEND_RESULT_TOPIC_ARN"] == render(ref(template, "ResultTopic"))
    assert env["RESEND_DEDUPE_BACKEND"] == "dynamodb"
    assert env["RESEND_DEDUPE_TABLE"] == ref(template, "DedupeTable")


@pytest.mark.parametrize("target", sorted(ENVIRONMENTS))
def test_redrive_leaves_the_worker_its_last_attempt(target: str) -> None:
    # The worker answers "failed" itself at RESEND_MAX_ATTEMPTS receives; SQS must not move
    # the message to the DLQ (without a result) before that.
    env = ENVIRONMENTS[target]()
    redrive = cfn_resource("Queue")["Properties"]["RedrivePolicy"]
    assert redrive["maxReceiveCount"] > int(setting(env, "RESEND_MAX_ATTEMPTS"))
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}


@pytest.mark.parametrize("target", sorted(ENVIRONMENTS))
def test_queue_timing_matches_the_worker(target: str) -> None:
    env = ENVIRONMENTS[target]()
    queue = cfn_resource("Queue")["Properties"]
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
    for logical_id in ("Queue", "DeadLetterQueue", "ResultTopic"):
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


def test_irsa_role_trusts_the_worker_and_keda_service_accounts() -> None:
    role = cfn_resource("IrsaRole")
    assert role["Condition"] == "CreateIrsaRole"
    document = role["Properties"]["AssumeRolePolicyDocument"]["Fn::Sub"]
    account = kube("ServiceAccount")["metadata"]["name"]
    assert f"system:serviceaccount:${{KubernetesNamespace}}:{account}" in document
    assert "system:serviceaccount:${KedaOperatorServiceAccount}" in document
    annotation = kube("ServiceAccount")["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert annotation.endswith(":role/" + role["Properties"]["RoleName"])
    assert (
        kube("Namespace")["metadata"]["name"]
        == cloudformation()["Parameters"]["KubernetesNamespace"]["Default"]
    )
