"""The one reading of pydantic's errors: locations and wording, never the value written."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from resend_contract.validation import problems


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    count: int

    @field_validator("name")
    @classmethod
    def no_at(cls, value: str) -> str:
        if "@" in value:
            raise ValueError("must not be an address")
        return value


def failure(data: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Shape.model_validate(data)
    return caught.value


def test_kinds_locations_and_messages_without_the_values() -> None:
    secret = "jane.doe@example.com"
    found = problems(failure({"name": secret, "count": "TOPSECRET", "extra": 1}))
    assert [(p.location, p.missing, p.unknown) for p in found] == [
        (("name",), False, False),
        (("count",), False, False),
        (("extra",), False, True),
    ]
    assert found[0].message == "must not be an address"
    for problem in found:
        assert secret not in problem.message and "TOPSECRET" not in problem.message


def test_a_missing_member_is_marked_missing() -> None:
    [missing] = problems(failure({"name": "jane"}))
    assert (missing.location, missing.missing) == (("count",), True)
