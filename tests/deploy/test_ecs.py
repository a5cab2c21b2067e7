"""The ECS files: valid input for their AWS API calls, and consistent with the worker and the stack."""

from __future__ import annotations

import math
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from worker.settings import SettingsError, load_settings

from .artifacts import (
    ECS,
    cfn_resource,
    cloudformation,
    dockerfile_stages,
    ecs_container,
    ecs_env,
    ecs_json,
    healthcheck_command,
    kube,
    lane_queue_urls,
    setting,
    setting_env_names,
)

# Each file is the --cli-input-json of one call.
API_CALLS = {
    "task-definition.json": ("ecs", "RegisterTaskDefinition"),
    "service.json": ("ecs", "CreateService"),
    "scalable-target.json": ("application-autoscaling", "RegisterScalableTarget"),
    "scaling-policy.json": ("application-autoscaling", "PutScalingPolicy"),
    "scaling-policy-bulk.json": ("application-autoscaling", "PutScalingPolicy"),
}
# One target tracking policy per lane. Application Auto Scaling follows whichever policy asks
# for the most tasks, out and in, like the HPA with one KEDA trigger per lane.
SCALING_POLICIES = sorted(name for name, call in API_CALLS.items() if call[1] == "PutScalingPolicy")
ECS_MAX_STOP_TIMEOUT = 120


def test_every_ecs_file_is_checked_as_the_input_of_its_call() -> None:
    assert {path.name for path in ECS.glob("*.json")} == set(API_CALLS)


@pytest.mark.parametrize("file_name", sorted(API_CALLS))
def test_file_is_valid_input_for_its_api_call(file_name: str) -> None:
    service, operation = API_CALLS[file_name]
    model = botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).input_shape
    assert shape is not None
    report = ParamValidator().validate(ecs_json(file_name), shape)
    assert not report.has_errors(), report.generate_report()


def test_task_is_fargate_awsvpc_with_its_roles() -> None:
    task = ecs_json("task-definition.json")
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert task["networkMode"] == "awsvpc"
    for key, logical_id in (("taskRoleArn", "TaskRole"), ("executionRoleArn", "ExecutionRole")):
        role_name = cfn_resource(logical_id)["Properties"]["RoleName"]
        assert task[key].endswith(f":role/{role_name}"), key


def test_every_variable_is_a_setting_and_the_values_are_valid(clean_env: None) -> None:
    env = ecs_env()
    known = setting_env_names()
    assert not sorted(set(env) - set(known)), "unknown settings in task-definition.json"
    try:
        load_settings(**{known[name]: value for name, value in env.items()})
    except SettingsError as exc:
        pytest.fail(f"task-definition.json does not pass the worker's validation: {exc}")


def test_client_secrets_come_from_secrets_manager_by_id() -> None:
    env = ecs_env()
    # The worker reads (and re-reads) the secret itself: nothing secret sits in the task's
    # environment, and a rotation needs no new deployment.
    parameter = cloudformation()["Parameters"]["ClientSecretsName"]
    assert env["RESEND_CLIENT_SECRETS_SECRET_ID"] == parameter["Default"]
    assert "RESEND_CLIENT_SECRETS" not in env
    assert "RESEND_CLIENT_SECRETS_FILE" not in env
    assert not ecs_container().get("secrets")


def test_stop_timeout_outlasts_the_shutdown_timeout() -> None:
    timeout = float(setting(ecs_env(), "RESEND_SHUTDOWN_TIMEOUT_SECONDS"))
    assert timeout < ecs_container()["stopTimeout"] <= ECS_MAX_STOP_TIMEOUT


def test_container_is_locked_down_like_the_image() -> None:
    container = ecs_container()
    task = ecs_json("task-definition.json")
    (user,) = [i.value for i in dockerfile_stages()[-1] if i.keyword == "USER"]
    assert container["user"] == user and not user.startswith("0")
    assert container["readonlyRootFilesystem"] is True
    assert container["linuxParameters"]["capabilities"]["drop"] == ["ALL"]
    (tmp,) = [m for m in container["mountPoints"] if m["containerPath"] == "/tmp"]
    assert tmp["sourceVolume"] in {v["name"] for v in task["volumes"]}
    assert container["essential"] is True
    assert container.get("command", ["run"]) == ["run"]


def test_health_check_is_the_images_and_on_the_metrics_port() -> None:
    check = ecs_container()["healthCheck"]
    assert check["command"][0] == "CMD"
    assert check["command"][1:] == healthcheck_command()
    port = int(setting(ecs_env(), "RESEND_METRICS_PORT"))
    assert [p["containerPort"] for p in ecs_container()["portMappings"]] == [port]


def test_logs_go_to_the_stacks_log_group() -> None:
    logging = ecs_container()["logConfiguration"]
    assert logging["logDriver"] == "awslogs"
    group = cfn_resource("LogGroup")["Properties"]["LogGroupName"]
    assert logging["options"]["awslogs-group"] == group
    assert logging["options"]["awslogs-region"] == setting(ecs_env(), "AWS_REGION")


def test_service_and_scaling_stay_within_the_cognito_quota() -> None:
    service = ecs_json("service.json")
    target = ecs_json("scalable-target.json")
    env = ecs_env()
    tags = {t["key"]: t["value"] for t in service["tags"]}
    quota, budget = float(tags["cognito-quota-rps"]), float(tags["cognito-budget-rps"])
    max_rps = float(setting(env, "RESEND_COGNITO_MAX_RPS"))
    expected_replicas = int(setting(env, "RESEND_EXPECTED_REPLICAS"))
    deployment = service["deploymentConfiguration"]
    # ECS may run maximumPercent of the desired count during a deployment.
    most_tasks = target["MaxCapacity"] * deployment["maximumPercent"] // 100
    assert budget <= quota and max_rps <= budget
    assert most_tasks <= expected_replicas
    assert most_tasks * max_rps / expected_replicas <= budget
    assert target["MinCapacity"] <= service["desiredCount"] <= target["MaxCapacity"]
    # A deployment must be able to stop a task at the minimum count, or it never progresses.
    healthy_floor = math.ceil(target["MinCapacity"] * deployment["minimumHealthyPercent"] / 100)
    assert healthy_floor < target["MinCapacity"]
    assert deployment["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}


def _watched_queue(policy: dict[str, Any]) -> str:
    """The one SQS queue a scaling policy's metrics read."""
    metrics = policy["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]
    queues = {
        d["Value"]
        for m in metrics["Metrics"]
        if "MetricStat" in m and m["MetricStat"]["Metric"]["Namespace"] == "AWS/SQS"
        for d in m["MetricStat"]["Metric"]["Dimensions"]
    }
    assert len(queues) == 1, f"{policy['PolicyName']} mixes queues: {sorted(queues)}"
    (queue,) = queues
    return str(queue)


@pytest.mark.parametrize("file_name", SCALING_POLICIES)
def test_scaling_policy_targets_the_service_with_one_backlog_per_task(file_name: str) -> None:
    service, target = ecs_json("service.json"), ecs_json("scalable-target.json")
    policy = ecs_json(file_name)
    resource_id = f"service/{service['cluster']}/{service['serviceName']}"
    assert target["ResourceId"] == policy["ResourceId"] == resource_id
    assert target["ScalableDimension"] == policy["ScalableDimension"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    metrics = policy["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]
    (returned,) = [m for m in metrics["Metrics"] if m.get("ReturnData", True)]
    # Visible plus in flight, divided by the running tasks: a backlog per task.
    assert returned["Expression"] == "(visible + inflight) / tasks"
    names = {
        m["Id"]: m["MetricStat"]["Metric"]["MetricName"]
        for m in metrics["Metrics"]
        if "MetricStat" in m
    }
    assert names == {
        "visible": "ApproximateNumberOfMessagesVisible",
        "inflight": "ApproximateNumberOfMessagesNotVisible",
        "tasks": "RunningTaskCount",
    }


def test_scaling_watches_every_queue_the_worker_drains_and_no_other() -> None:
    lanes = lane_queue_urls(ecs_env())
    # The shipped task definition runs both lanes; each needs its backlog to count.
    assert set(lanes) == {"RESEND_QUEUE_URL", "RESEND_BULK_QUEUE_URL"}
    watched = sorted(_watched_queue(ecs_json(name)) for name in SCALING_POLICIES)
    assert watched == sorted(url.rsplit("/", 1)[1] for url in lanes.values())
    names = [ecs_json(name)["PolicyName"] for name in SCALING_POLICIES]
    assert len(set(names)) == len(names), "a second policy of the same name replaces the first"


def test_each_lanes_target_is_the_kubernetes_scalers() -> None:
    """The same backlog per replica on both platforms, lane by lane (the reasoning is in
    deploy/kubernetes/scaledobject.yaml)."""
    keda = {
        trigger["metadata"]["queueURL"].rsplit("/", 1)[1]: float(trigger["metadata"]["queueLength"])
        for trigger in kube("ScaledObject")["spec"]["triggers"]
    }
    ecs = {
        _watched_queue(policy): float(
            policy["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
        )
        for policy in map(ecs_json, SCALING_POLICIES)
    }
    assert ecs == keda
    interactive, bulk = (
        ecs[url.rsplit("/", 1)[1]]
        for url in (ecs_env()["RESEND_QUEUE_URL"], ecs_env()["RESEND_BULK_QUEUE_URL"])
    )
    assert bulk > interactive
