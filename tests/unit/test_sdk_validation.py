"""botocore's parameter validation is off (``worker.aws``): the contract must cover what it checks.

Every request the contract accepts, with or without a SecretHash, passes botocore's own
validator for ResendConfirmationCode; so turning that validator off loses no check, it only
stops paying for it on every call.
"""

from __future__ import annotations

import contextlib

import botocore
import botocore.session
from botocore.validate import ParamValidator
from hypothesis import given, settings
from hypothesis import strategies as st
from resend_contract.models import InvalidRequest, ResendRequest

from worker.aws import cognito_config, queue_config
from worker.settings import Settings

_SHAPE = (
    botocore.session.get_session()
    .get_service_model("cognito-idp")
    .operation_model("ResendConfirmationCode")
    .input_shape
)
assert _SHAPE is not None
SHAPE = _SHAPE

text = st.text(min_size=0, max_size=140)


def botocore_report(params: dict[str, object]) -> str:
    return str(ParamValidator().validate(params, SHAPE).generate_report())


@settings(max_examples=300, deadline=None)
@given(
    client_id=text,
    username=text,
    metadata=st.one_of(st.none(), st.dictionaries(text, text, max_size=5)),
    secret_hash=st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9+/=]{1,64}", fullmatch=True)),
)
def test_what_the_contract_accepts_botocore_accepts(
    client_id: str, username: str, metadata: dict[str, str] | None, secret_hash: str | None
) -> None:
    body: dict[str, object] = {"ClientId": client_id, "Username": username}
    if metadata is not None:
        body["ClientMetadata"] = metadata
    try:
        request = ResendRequest.model_validate(body)
    except (ValueError, InvalidRequest):
        return
    assert botocore_report(request.cognito_params(secret_hash)) == ""


def test_the_validator_would_catch_what_the_contract_catches() -> None:
    """The comparison above is not vacuous: botocore does reject an empty username."""
    assert "Username" in botocore_report({"ClientId": "abc", "Username": ""})


def test_every_client_skips_the_sdk_validation() -> None:
    settings_ = Settings(
        queue_url="http://127.0.0.1:1/123456789012/q",
        result_topic_arn="arn:aws:sns:us-east-1:123456789012:results",
    )
    for config in (cognito_config(settings_), queue_config(settings_)):
        assert getattr(config, "parameter_validation", None) is False


async def test_every_request_carries_the_fixed_user_agent() -> None:
    """Built once, not per request; still naming the versions AWS support asks for."""
    from aiobotocore.session import get_session

    from worker import __version__
    from worker.aws import USER_AGENT

    assert USER_AGENT.startswith(f"resend-worker/{__version__} aiobotocore/")
    assert " Python/" in USER_AGENT
    settings_ = Settings(
        queue_url="http://127.0.0.1:1/123456789012/q",
        result_topic_arn="arn:aws:sns:us-east-1:123456789012:results",
    )
    seen: list[str] = []

    def capture(request: object, **_: object) -> None:
        header = request.headers["User-Agent"]  # type: ignore[attr-defined]
        seen.append(header.decode() if isinstance(header, bytes) else header)
        raise RuntimeError("captured")  # never leaves the process

    async with get_session().create_client(
        "cognito-idp",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:1",
        config=cognito_config(settings_),
    ) as client:
        client.meta.events.register("before-send", capture)
        with contextlib.suppress(RuntimeError):
            await client.resend_confirmation_code(ClientId="abc", Username="jane")
    assert seen == [f"{USER_AGENT} botocore/{botocore.__version__}"]
