"""The worker's IAM policy grants exactly what the worker's code calls, on named resources."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .artifacts import (
    KEDA_SCALER_POLICY,
    WORKER_POLICY,
    cfn_resource,
    cloudformation,
    configmap_env,
    ecs_env,
    lane_queue_urls,
    queue_arn,
    render,
)
from .aws_calls import KMS_WHEN_ENCRYPTED, actions_called, operation_calls
from .cfn_values import evaluate

ENVIRONMENTS = {"kubernetes": configmap_env, "ecs": ecs_env}


def _policy() -> dict[str, Any]:
    policy = json.loads(WORKER_POLICY.read_text(encoding="utf-8"))
    assert isinstance(policy, dict)
    return policy


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _granted(policy: dict[str, Any]) -> set[str]:
    return {
        action
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"])
    }


def _kms_needed(called: set[str]) -> set[str]:
    """KMS actions the called actions need because the stack encrypts their resource.

    Which resource an action is granted on comes from the template's WorkerPolicy itself
    (``!GetAtt Queue.Arn``, ``!Ref ResultTopic``); encrypted means a KmsMasterKeyId there.
    """
    template = cloudformation()
    statements = template["Resources"]["WorkerPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    needed: set[str] = set()
    for statement in statements:
        for action in _as_list(statement["Action"]):
            if action not in called or action not in KMS_WHEN_ENCRYPTED:
                continue
            for resource in _as_list(statement["Resource"]):
                logical_id = resource.get("Ref") or resource.get("Fn::GetAtt", [None])[0]
                properties = cfn_resource(logical_id).get("Properties", {})
                if "KmsMasterKeyId" in properties:
                    needed |= KMS_WHEN_ENCRYPTED[action]
    return needed


def test_the_scan_finds_the_worker_calling_aws() -> None:
    # Guards the scan itself: if it silently found nothing, the exact-match test below would
    # only compare the policy with an empty set.
    services = {call.service for call in operation_calls()}
    assert {"sqs", "sns"} <= services, services


def test_policy_grants_exactly_the_actions_the_worker_calls() -> None:
    called = actions_called()
    expected = set(called) | _kms_needed(set(called))
    granted = _granted(_policy())
    missing = sorted(expected - granted)
    unused = sorted(granted - expected)
    assert not missing and not unused, (
        f"missing from deploy/iam/worker-policy.json: "
        f"{ {a: called.get(a, ['SSE-KMS']) for a in missing} }; "
        f"granted but never called: {unused}"
    )


def test_no_wildcards_and_dead_letter_queue_only_receives_copies() -> None:
    policy = _policy()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            assert "*" not in action, action
        for resource in _as_list(statement["Resource"]):
            assert resource != "*" and ":*" not in resource, resource
    send = [s for s in policy["Statement"] if "sqs:SendMessage" in _as_list(s["Action"])]
    assert [_as_list(s["Resource"]) for s in send] == [
        ["arn:aws:sqs:${AWS_REGION}:${AWS_ACCOUNT_ID}:resend-requests-dlq"]
    ]
    consume = [s for s in policy["Statement"] if "sqs:ReceiveMessage" in _as_list(s["Action"])]
    assert all(not r.endswith("-dlq") for s in consume for r in _as_list(s["Resource"]))
    # The Cognito call is unsigned: granting cognito-idp would be privilege for nothing.
    assert not any(a.startswith("cognito-idp:") for a in _granted(policy))


def _normalised(statements: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        s["Sid"]: {
            "Effect": s["Effect"],
            "Action": sorted(_as_list(s["Action"])),
            "Resource": sorted(_as_list(s["Resource"])),
            "Condition": s.get("Condition", {}),
        }
        for s in statements
    }


def test_cloudformation_policy_is_the_same_policy() -> None:
    template = cloudformation()
    document = template["Resources"]["WorkerPolicy"]["Properties"]["PolicyDocument"]
    in_stack = _normalised(evaluate(template, document)["Statement"])
    in_json = _normalised(_policy()["Statement"])
    assert in_stack == in_json


def test_every_worker_role_carries_the_policy() -> None:
    for logical_id in ("TaskRole", "IrsaRole"):
        arns = cfn_resource(logical_id)["Properties"]["ManagedPolicyArns"]
        assert {"Ref": "WorkerPolicy"} in arns, logical_id
        assert "Policies" not in cfn_resource(logical_id)["Properties"], logical_id


def _lane_queue_arns(target: str) -> list[str]:
    """The ARNs of the request queues a target's settings drain, one per lane."""
    return sorted(queue_arn(url) for url in lane_queue_urls(ENVIRONMENTS[target]()).values())


@pytest.mark.parametrize("target", sorted(ENVIRONMENTS))
def test_worker_consumes_every_lanes_queue_and_only_those(target: str) -> None:
    consume = [s for s in _policy()["Statement"] if "sqs:ReceiveMessage" in _as_list(s["Action"])]
    (statement,) = consume
    # Every lane takes the same four actions: receive, delete, extend or defer, read the policy.
    assert sorted(_as_list(statement["Action"])) == [
        "sqs:ChangeMessageVisibility",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
    ]
    granted = sorted(render(resource) for resource in _as_list(statement["Resource"]))
    assert granted == _lane_queue_arns(target)
    assert len(granted) == 2, "the shipped settings run both lanes"


def test_keda_scaler_policy_is_the_stacks_and_reads_only_the_queue_depth() -> None:
    policy = json.loads(KEDA_SCALER_POLICY.read_text(encoding="utf-8"))
    (statement,) = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert _as_list(statement["Action"]) == ["sqs:GetQueueAttributes"]
    # The ConfigMap's lanes' queues, one ScaledObject trigger each; nothing else.
    granted = sorted(render(resource) for resource in _as_list(statement["Resource"]))
    assert granted == _lane_queue_arns("kubernetes")
    template = cloudformation()
    (inline,) = cfn_resource("KedaScalerRole")["Properties"]["Policies"]
    in_stack = _normalised(evaluate(template, inline["PolicyDocument"])["Statement"])
    assert in_stack == _normalised(policy["Statement"])


def test_keda_role_does_not_carry_the_workers_policy() -> None:
    properties = cfn_resource("KedaScalerRole")["Properties"]
    assert {"Ref": "WorkerPolicy"} not in properties.get("ManagedPolicyArns", [])
