"""Which AWS operations the worker calls, read from its source, and the IAM actions they need.

A static scan (no AWS, no worker run): the services are those the worker opens clients for
(``create_client("sqs", ...)`` with a literal name), and a call ``anything.method(...)`` is an
operation of one of them when ``method`` is the snake_case name of an operation of that service
(from botocore's service model) and the call looks like a botocore call: no positional arguments
(botocore client methods accept keywords only), and either ``**params`` or keywords that are all
members of the operation's input shape. That rejects look-alikes such as
``SecretStr.get_secret_value()`` or ``publisher.publish(result)``.

Limits: an operation called through ``getattr`` or with no argument at all is not seen. Those
would show up as AccessDenied in the integration tests against a real account, not here.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
from botocore import xform_name

from .artifacts import REPO

# The image's packages: the service and the contract it shares with producers. The producer
# client and the local stack live in their own folders and never run with the worker's role.
PACKAGES = (REPO / "worker", REPO / "contract" / "resend_contract")

# IAM actions whose name differs from the operation's: batch APIs authorize as the single call.
ACTION_FOR_OPERATION = {
    ("sqs", "DeleteMessageBatch"): "DeleteMessage",
    ("sqs", "ChangeMessageVisibilityBatch"): "ChangeMessageVisibility",
    ("sqs", "SendMessageBatch"): "SendMessage",
    ("sns", "PublishBatch"): "Publish",
}

# With SSE-KMS on a customer managed key, these calls also need the key (SQS and SNS server-side
# encryption documentation): receiving decrypts; sending and publishing create data keys.
KMS_WHEN_ENCRYPTED = {
    "sqs:ReceiveMessage": frozenset({"kms:Decrypt"}),
    "sqs:SendMessage": frozenset({"kms:GenerateDataKey", "kms:Decrypt"}),
    "sns:Publish": frozenset({"kms:GenerateDataKey", "kms:Decrypt"}),
}


@dataclass(frozen=True)
class OperationCall:
    service: str
    operation: str
    where: str


def worker_modules() -> list[Path]:
    return [path for package in PACKAGES for path in sorted(package.rglob("*.py"))]


def _parse(paths: Iterable[Path]) -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"), filename=str(p))) for p in paths]


def _called_name(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    if isinstance(node.func, ast.Name):
        return node.func.id
    return None


def client_services(trees: list[tuple[Path, ast.Module]]) -> set[str]:
    services: set[str] = set()
    for _, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _called_name(node) == "create_client":
                candidates = list(node.args[:1]) + [
                    k.value for k in node.keywords if k.arg == "service_name"
                ]
                for arg in candidates:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        services.add(arg.value)
    return services


@cache
def _service_model(service: str) -> Any:
    return botocore.session.get_session().get_service_model(service)


def _operations_by_method(services: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    index: dict[str, list[tuple[str, str]]] = {}
    for service in sorted(services):
        for operation in _service_model(service).operation_names:
            index.setdefault(xform_name(operation), []).append((service, operation))
    return index


def _input_members(service: str, operation: str) -> set[str]:
    shape = _service_model(service).operation_model(operation).input_shape
    return set(shape.members) if shape is not None else set()


def operation_calls(paths: Iterable[Path] | None = None) -> list[OperationCall]:
    trees = _parse(worker_modules() if paths is None else paths)
    index = _operations_by_method(client_services(trees))
    calls: list[OperationCall] = []
    for path, tree in trees:
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            candidates = index.get(node.func.attr, [])
            if not candidates or node.args:
                continue
            named = {k.arg for k in node.keywords if k.arg is not None}
            spread = any(k.arg is None for k in node.keywords)
            if not named and not spread:
                continue
            fitting = [c for c in candidates if named <= _input_members(*c)]
            if len(fitting) > 1:
                receiver = ast.unparse(node.func.value).lower()
                by_name = [c for c in fitting if c[0].replace("-", "") in receiver]
                fitting = by_name or fitting
            where = f"{path.relative_to(REPO).as_posix()}:{node.lineno}"
            calls.extend(OperationCall(service, op, where) for service, op in fitting)
    return calls


def needs_iam(call: OperationCall) -> bool:
    """False for operations the service does not authorize with IAM (unsigned, e.g.
    cognito-idp ResendConfirmationCode)."""
    model = _service_model(call.service).operation_model(call.operation)
    auth = getattr(model, "auth", None) or []
    return model.auth_type != "none" and "smithy.api#noAuth" not in auth


def iam_action(call: OperationCall) -> str:
    prefix = _service_model(call.service).signing_name
    name = ACTION_FOR_OPERATION.get((call.service, call.operation), call.operation)
    return f"{prefix}:{name}"


def actions_called() -> dict[str, list[str]]:
    """IAM action -> where in the worker it is needed."""
    actions: dict[str, list[str]] = {}
    for call in operation_calls():
        if needs_iam(call):
            actions.setdefault(iam_action(call), []).append(call.where)
    return actions
