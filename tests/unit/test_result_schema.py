"""The shipped JSON Schema of results accepts what the worker publishes, and only that."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest
from resend_contract.models import ErrorInfo, OriginalRef, Outcome, Result

SCHEMA = json.loads(
    resources.files("resend_contract").joinpath("schemas/result.schema.json").read_text()
)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_the_schema_lists_every_outcome() -> None:
    assert SCHEMA["$defs"]["outcome"]["enum"] == [o.value for o in Outcome]


@pytest.mark.parametrize("outcome", list(Outcome))
def test_published_results_validate(outcome: Outcome) -> None:
    original = None
    if outcome is Outcome.DUPLICATE:
        original = OriginalRef(
            RequestId="r-0", MessageId="m-0", Outcome=Outcome.UNKNOWN, ProcessedAt="2026-01-01"
        )
    result = Result(
        Outcome=outcome,
        RequestId="r-1",
        MessageId="m-1",
        ClientId="c",
        Username="jane",
        Error=ErrorInfo(Code="ReadTimeout", Message="m", Reason="outcome_unknown"),
        Original=original,
    )
    VALIDATOR.validate(json.loads(result.to_json()))


def test_unknown_members_and_outcomes_are_rejected() -> None:
    good = json.loads(
        Result(
            Outcome=Outcome.SENT, RequestId=None, MessageId="m", ClientId=None, Username=None
        ).to_json()
    )
    assert VALIDATOR.is_valid(good)
    assert not VALIDATOR.is_valid({**good, "Outcome": "maybe"})
    assert not VALIDATOR.is_valid({**good, "Extra": 1})
