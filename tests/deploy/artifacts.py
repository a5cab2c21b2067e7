"""The deployment files, loaded the way their tools read them, for the tests beside this module.

The files carry ``${AWS_REGION}``-style placeholders that operators render with ``envsubst``
(deploy/README.md); ``render`` does the same with example values, so what the tests validate is
what a cluster or AWS would receive.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import AliasChoices

from worker.settings import Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
ECS = DEPLOY / "ecs"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
LOCK = REPO / "requirements.lock"
CLOUDFORMATION = DEPLOY / "cloudformation" / "resend-worker.yaml"
WORKER_POLICY = DEPLOY / "iam" / "worker-policy.json"
KEDA_SCALER_POLICY = DEPLOY / "iam" / "keda-scaler-policy.json"

# The placeholders of the deploy files and the example values they are rendered with here.
PLACEHOLDERS = {
    "AWS_REGION": "eu-west-1",
    "AWS_ACCOUNT_ID": "123456789012",
    "KMS_KEY_ID": "1234abcd-12ab-34cd-56ef-1234567890ab",
}


def render(text: str) -> str:
    """envsubst with an explicit variable list: only the known placeholders are replaced."""
    for name, value in PLACEHOLDERS.items():
        text = text.replace("${" + name + "}", value)
    return text


# -- settings ------------------------------------------------------------------------------


@cache
def setting_env_names() -> dict[str, str]:
    """Environment variable -> Settings field, as pydantic-settings resolves them."""
    names: dict[str, str] = {}
    prefix = str(Settings.model_config.get("env_prefix", ""))
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            choices = [c for c in alias.choices if isinstance(c, str)]
        elif isinstance(alias, str):
            choices = [alias]
        else:
            choices = [prefix + field_name]
        for choice in choices:
            names[choice.upper()] = field_name
    return names


def setting(env: Mapping[str, str], name: str) -> Any:
    """A setting's value as the worker would see it with this environment (default if unset)."""
    field_name = setting_env_names()[name]
    if name in env:
        return env[name]
    return Settings.model_fields[field_name].default


# The settings naming the request queues, one per lane, interactive first.
LANE_QUEUE_SETTINGS = ("RESEND_QUEUE_URL", "RESEND_BULK_QUEUE_URL")


def lane_queue_urls(env: Mapping[str, str]) -> dict[str, str]:
    """Setting name -> queue URL, for each lane this environment configures."""
    return {name: env[name] for name in LANE_QUEUE_SETTINGS if env.get(name, "").strip()}


def queue_arn(url: str) -> str:
    """The ARN of the SQS queue at ``https://sqs.REGION.amazonaws.com/ACCOUNT/NAME``."""
    host, account, name = url.removeprefix("https://").split("/")
    region = host.split(".")[1]
    return f"arn:aws:sqs:{region}:{account}:{name}"


# -- Kubernetes ----------------------------------------------------------------------------


def yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(render(path.read_text(encoding="utf-8"))) if doc]


@cache
def kustomization() -> dict[str, Any]:
    docs = yaml_documents(KUBERNETES / "kustomization.yaml")
    assert len(docs) == 1
    return docs[0]


@cache
def kubernetes_resources() -> tuple[tuple[str, dict[str, Any]], ...]:
    """(file name, resource) for every resource the kustomization applies."""
    found: list[tuple[str, dict[str, Any]]] = []
    for name in kustomization()["resources"]:
        for doc in yaml_documents(KUBERNETES / name):
            found.append((name, doc))
    return tuple(found)


def kube(kind: str) -> dict[str, Any]:
    """The one resource of this kind in the kustomization."""
    matches = [doc for _, doc in kubernetes_resources() if doc["kind"] == kind]
    assert len(matches) == 1, f"expected one {kind}, found {len(matches)}"
    return matches[0]


def worker_container() -> dict[str, Any]:
    containers = kube("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def configmap_env() -> dict[str, str]:
    return {str(k): str(v) for k, v in kube("ConfigMap")["data"].items()}


# -- ECS -----------------------------------------------------------------------------------


def ecs_json(name: str) -> dict[str, Any]:
    data = json.loads(render((ECS / name).read_text(encoding="utf-8")))
    assert isinstance(data, dict)
    return data


def ecs_container() -> dict[str, Any]:
    containers = ecs_json("task-definition.json")["containerDefinitions"]
    assert len(containers) == 1
    return dict(containers[0])


def ecs_env() -> dict[str, str]:
    return {item["name"]: item["value"] for item in ecs_container()["environment"]}


# -- Dockerfile ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str
    value: str
    line: int


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[Instruction]:
    """Instructions with continuation lines joined; comments dropped, as BuildKit does."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        text = " ".join(part for part in pending if part)
        pending = []
        keyword, _, value = text.partition(" ")
        instructions.append(Instruction(keyword.upper(), value.strip(), start))
    assert not pending, "the Dockerfile ends inside a continued instruction"
    return instructions


def dockerfile_stages(path: Path = DOCKERFILE) -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for instruction in dockerfile_instructions(path):
        if instruction.keyword == "FROM":
            stages.append([])
        assert stages, f"line {instruction.line}: {instruction.keyword} before FROM"
        stages[-1].append(instruction)
    return stages


def exec_form(value: str) -> list[str]:
    """The JSON array of an exec-form instruction; fails for the shell form."""
    parsed = json.loads(value)
    assert isinstance(parsed, list) and all(isinstance(p, str) for p in parsed), value
    return [str(p) for p in parsed]


def env_assignments(value: str) -> dict[str, str]:
    """ENV/LABEL ``key=value ...`` pairs (the only form the Dockerfile uses)."""
    pairs: dict[str, str] = {}
    for token in shlex.split(value):
        key, sep, val = token.partition("=")
        assert sep, f"not a key=value pair: {token!r}"
        pairs[key] = val
    return pairs


def stage_env(stage: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            env.update(env_assignments(instruction.value))
    return env


def healthcheck_command() -> list[str]:
    """The Dockerfile HEALTHCHECK's command (after its options)."""
    checks = [i for s in dockerfile_stages()[-1:] for i in s if i.keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    options, sep, command = checks[0].value.partition("CMD ")
    assert sep, "HEALTHCHECK without CMD"
    assert all(opt.startswith("--") for opt in options.split()), options
    return exec_form(command)


# -- CloudFormation ------------------------------------------------------------------------


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !Sub, !GetAtt, ...)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        assert isinstance(node, yaml.MappingNode)
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + suffix: value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


@cache
def cloudformation() -> dict[str, Any]:
    loaded = yaml.load(CLOUDFORMATION.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    assert isinstance(loaded, dict)
    return loaded


def cfn_resource(logical_id: str) -> dict[str, Any]:
    resource = cloudformation()["Resources"][logical_id]
    assert isinstance(resource, dict)
    return resource


def cfn_resources_of_type(resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, resource in cloudformation()["Resources"].items():
        if resource["Type"] == resource_type:
            yield logical_id, resource
