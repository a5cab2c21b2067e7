"""``--generate-cli-skeleton``: the input template and a sample of the result message.

The input template comes from botocore's service model for ResendConfirmationCode, generated
the way the AWS CLI generates its own, so the file one CLI writes the other reads. The output
sample is a ``Result`` with every member present, built from the model the worker publishes.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from resend_contract.models import ErrorInfo, OriginalRef, Outcome, Result

SERVICE = "cognito-idp"
OPERATION = "ResendConfirmationCode"


@functools.cache
def operation_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(SERVICE).operation_model(OPERATION)


def input_shape() -> Any:
    return operation_model().input_shape


def input_skeleton() -> dict[str, Any]:
    from botocore.utils import ArgumentGenerator

    skeleton = ArgumentGenerator().generate_skeleton(input_shape())
    plain: dict[str, Any] = json.loads(json.dumps(skeleton))  # plain dicts, same member order
    return plain


def output_sample() -> Result:
    """A result with every member, placeholders as the AWS CLI's skeletons use them."""
    delivery_shape = operation_model().output_shape.members["CodeDeliveryDetails"]
    return Result(
        Outcome=Outcome.SENT,
        RequestId="",
        MessageId="",
        ClientId="",
        Username="",
        CodeDeliveryDetails=dict.fromkeys(delivery_shape.members, ""),
        Error=ErrorInfo(Code="", Message="", Reason=""),
        Attempts=0,
        ProcessedAt="",
        Original=OriginalRef(RequestId="", MessageId="", Outcome=Outcome.SENT, ProcessedAt=""),
    )


def render(kind: str) -> str:
    if kind == "output":
        return json.dumps(output_sample().model_dump(mode="json"), indent=4) + "\n"
    skeleton = input_skeleton()
    if kind == "yaml-input":
        import yaml

        return str(yaml.safe_dump(skeleton, sort_keys=False, default_flow_style=False))
    return json.dumps(skeleton, indent=4) + "\n"
