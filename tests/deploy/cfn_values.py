"""Evaluate the few CloudFormation intrinsics the template's policy uses, to plain strings.

Just enough of CloudFormation to compare the template's WorkerPolicy with
deploy/iam/worker-policy.json: Ref (parameters with their defaults, pseudo parameters, the
resources involved), Fn::GetAtt (Arn, QueueName) and Fn::Sub. Pseudo parameters become the same
``${AWS_REGION}``/``${AWS_ACCOUNT_ID}`` placeholders the JSON uses, so the two compare verbatim.
"""

from __future__ import annotations

import re
from typing import Any

PSEUDO = {
    "AWS::Region": "${AWS_REGION}",
    "AWS::AccountId": "${AWS_ACCOUNT_ID}",
    "AWS::Partition": "aws",
}
_REGION, _ACCOUNT = PSEUDO["AWS::Region"], PSEUDO["AWS::AccountId"]
_KEY_ID = "${KMS_KEY_ID}"


class Unsupported(Exception):
    """An intrinsic or attribute this evaluator does not model."""


def _properties(template: dict[str, Any], logical_id: str) -> tuple[str, dict[str, Any]]:
    resource = template["Resources"][logical_id]
    return str(resource["Type"]), dict(resource.get("Properties", {}))


def ref(template: dict[str, Any], name: str) -> str:
    if name in PSEUDO:
        return PSEUDO[name]
    if name in template.get("Parameters", {}):
        return str(template["Parameters"][name]["Default"])
    kind, props = _properties(template, name)
    if kind == "AWS::SNS::Topic":
        return f"arn:aws:sns:{_REGION}:{_ACCOUNT}:{props['TopicName']}"
    if kind == "AWS::SQS::Queue":
        return f"https://sqs.{_REGION}.amazonaws.com/{_ACCOUNT}/{props['QueueName']}"
    if kind == "AWS::DynamoDB::Table":
        return str(props["TableName"])
    if kind == "AWS::KMS::Key":
        return _KEY_ID
    raise Unsupported(f"Ref to {kind}")


def get_att(template: dict[str, Any], logical_id: str, attribute: str) -> str:
    kind, props = _properties(template, logical_id)
    if kind == "AWS::SQS::Queue" and attribute == "Arn":
        return f"arn:aws:sqs:{_REGION}:{_ACCOUNT}:{props['QueueName']}"
    if kind == "AWS::SQS::Queue" and attribute == "QueueName":
        return str(props["QueueName"])
    if kind == "AWS::DynamoDB::Table" and attribute == "Arn":
        return f"arn:aws:dynamodb:{_REGION}:{_ACCOUNT}:table/{props['TableName']}"
    if kind == "AWS::KMS::Key" and attribute == "Arn":
        return f"arn:aws:kms:{_REGION}:{_ACCOUNT}:key/{_KEY_ID}"
    raise Unsupported(f"GetAtt {kind}.{attribute}")


def _sub(template: dict[str, Any], text: str) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if "." in name and name not in PSEUDO:
            logical_id, attribute = name.split(".", 1)
            return get_att(template, logical_id, attribute)
        return ref(template, name)

    return re.sub(r"\$\{([^}!]+)\}", one, text)


def evaluate(template: dict[str, Any], value: Any) -> Any:
    """The value with every intrinsic replaced by the string CloudFormation would produce."""
    if isinstance(value, list):
        return [evaluate(template, item) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref":
            return ref(template, argument)
        if key == "Fn::GetAtt":
            return get_att(template, argument[0], argument[1])
        if key == "Fn::Sub":
            if not isinstance(argument, str):
                raise Unsupported("Fn::Sub with a variable map")
            return _sub(template, argument)
        if key.startswith("Fn::"):
            raise Unsupported(key)
    return {key: evaluate(template, item) for key, item in value.items()}
