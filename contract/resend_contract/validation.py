"""Pydantic's validation errors as problems that never carry what was written.

The worker's settings, the request contract and the producer's command line each name a problem
in their own words (an environment variable, a body member, a flag), but all read pydantic's
errors the same way: never the input value, never a link to pydantic's docs, and the two kinds
of error every caller words for itself (a missing member, an unknown one) marked as such.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

MISSING = "missing"
UNKNOWN = "extra_forbidden"


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation failure: where (the schema's path), what kind, and pydantic's wording."""

    location: tuple[str, ...]
    kind: str
    message: str

    @property
    def missing(self) -> bool:
        return self.kind == MISSING

    @property
    def unknown(self) -> bool:
        return self.kind == UNKNOWN


def problems(exc: ValidationError) -> list[Problem]:
    """The failures of ``exc`` in order, their messages without pydantic's "Value error, "."""
    return [
        Problem(
            location=tuple(str(part) for part in error["loc"]),
            kind=error["type"],
            message=error["msg"].removeprefix("Value error, "),
        )
        for error in exc.errors(include_input=False, include_url=False, include_context=False)
    ]
