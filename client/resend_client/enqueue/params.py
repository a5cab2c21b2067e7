"""The request parameters of ``enqueue``: the AWS CLI's for ResendConfirmationCode, plus RequestId.

Values are read the AWS CLI's way: ``file://path`` loads a file's text, and a structure or map
parameter takes JSON when it starts with ``{`` (or ``[``) and shorthand syntax otherwise. The
request is then checked by the worker's own model, and each problem is reported against the flag
(or input file) the value came from, never with the value itself.

The flag table is written out rather than read from botocore's service model, which costs a
sixth of a second to load on every start of the CLI; a test keeps the two in step.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError
from resend_contract import validation
from resend_contract.models import ResendRequest

from resend_client.enqueue.shorthand import ShorthandError, parse_shorthand

Kind = Literal["string", "structure", "map"]
CLI_INPUT_JSON = "--cli-input-json"
CLI_INPUT_YAML = "--cli-input-yaml"


@dataclass(frozen=True)
class Parameter:
    member: str
    flag: str
    kind: Kind
    help: str

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


# In the order of the AWS CLI's help for resend-confirmation-code.
COGNITO_PARAMETERS: tuple[Parameter, ...] = (
    Parameter("ClientId", "--client-id", "string", "the app client id (required)"),
    Parameter(
        "SecretHash",
        "--secret-hash",
        "string",
        "Base64(HMAC-SHA256(client secret, Username + ClientId)); leave it out to have the "
        "worker compute it from its client secrets",
    ),
    Parameter(
        "UserContextData",
        "--user-context-data",
        "structure",
        "IpAddress=string,EncodedData=string (shorthand or JSON; for threat protection)",
    ),
    Parameter("Username", "--username", "string", "the user's username (required)"),
    Parameter(
        "AnalyticsMetadata",
        "--analytics-metadata",
        "structure",
        "AnalyticsEndpointId=string (shorthand or JSON)",
    ),
    Parameter(
        "ClientMetadata",
        "--client-metadata",
        "map",
        "KeyName1=string,KeyName2=string (shorthand or JSON; passed to Lambda triggers)",
    ),
)
REQUEST_ID = Parameter(
    "RequestId",
    "--request-id",
    "string",
    "correlates the request with its result (default: a new UUID, printed)",
)
REQUEST_PARAMETERS: tuple[Parameter, ...] = (*COGNITO_PARAMETERS, REQUEST_ID)
BY_MEMBER: dict[str, Parameter] = {p.member: p for p in REQUEST_PARAMETERS}


class ParameterError(Exception):
    """Bad values, each as ``(where, reason)`` where ``where`` is a flag; and missing flags."""

    def __init__(self, problems: list[tuple[str, str]], missing: list[str] | None = None) -> None:
        described = [f"{where}: {reason}" for where, reason in problems]
        if missing:
            described.insert(0, f"required: {', '.join(missing)}")
        super().__init__("; ".join(described))
        self.problems = problems
        self.missing = missing or []


def read_param_file(value: str, flag: str) -> str:
    """``file://path`` becomes the file's text (``~`` and variables expanded); others unchanged."""
    if value.startswith("fileb://"):
        raise ParameterError(
            [(flag, "fileb:// reads binary data; this parameter is text: use file://")]
        )
    if not value.startswith("file://"):
        return value
    path = os.path.expandvars(os.path.expanduser(value.removeprefix("file://")))
    try:
        with open(path, encoding="utf-8") as stream:
            return stream.read()
    except OSError as exc:
        raise ParameterError([(flag, f"cannot read {value}: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise ParameterError([(flag, f"{value} is not UTF-8 text")]) from None


def decode(parameter: Parameter, raw: str) -> Any:
    """One flag's value as the AWS CLI reads it."""
    text = read_param_file(raw, parameter.flag)
    if parameter.kind == "string":
        return text
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            reason = f"invalid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
            raise ParameterError([(parameter.flag, reason)]) from None
    try:
        return parse_shorthand(text, lambda value: read_param_file(value, parameter.flag))
    except ShorthandError as exc:
        raise ParameterError([(parameter.flag, f"invalid shorthand syntax: {exc}")]) from None


def load_cli_input(raw: str, flag: str) -> dict[str, Any]:
    """The document of ``--cli-input-json`` or ``--cli-input-yaml`` (text or file://)."""
    text = read_param_file(raw, flag)
    if flag == CLI_INPUT_YAML:
        import yaml

        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1} column {mark.column + 1})" if mark else ""
            raise ParameterError([(flag, f"invalid YAML{where}")]) from None
    else:
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            reason = f"invalid JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
            raise ParameterError([(flag, reason)]) from None
    if not isinstance(document, dict):
        raise ParameterError([(flag, "must hold an object of request members")])
    return document


@dataclass
class RequestDocument:
    """The request's members and, for each, the flag it came from."""

    members: dict[str, Any]
    origins: dict[str, str]


def assemble(
    flag_values: Mapping[str, str | None],
    cli_input: tuple[str, str] | None,
) -> RequestDocument:
    """Members from the input file, overridden member by member by flags given on the line.

    ``flag_values`` maps member names to raw flag values (None when not given); ``cli_input``
    is ``(flag, raw value)`` of ``--cli-input-json``/``--cli-input-yaml`` when one was given.
    All decoding problems are collected so one run reports them all.
    """
    members: dict[str, Any] = {}
    origins: dict[str, str] = {}
    problems: list[tuple[str, str]] = []
    if cli_input is not None:
        flag, raw = cli_input
        try:
            document = load_cli_input(raw, flag)
        except ParameterError as exc:
            problems.extend(exc.problems)
        else:
            members.update(document)
            origins.update(dict.fromkeys(document, flag))
    for member, value in flag_values.items():
        if value is None:
            continue
        parameter = BY_MEMBER[member]
        try:
            members[member] = decode(parameter, value)
        except ParameterError as exc:
            problems.extend(exc.problems)
        else:
            origins[member] = parameter.flag
    if problems:
        raise ParameterError(problems)
    return RequestDocument(members, origins)


def validate(document: RequestDocument) -> ResendRequest:
    """The worker's model decides; its complaints are re-addressed to flags."""
    try:
        return ResendRequest.model_validate(document.members)
    except ValidationError as exc:
        raise _parameter_error(exc, document) from None


def _found(members: Mapping[str, Any], location: list[str]) -> Any:
    value: Any = members
    for part in location:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _hint(error_type: str, found: Any) -> str:
    """What the value looked like, without saying what it was."""
    if isinstance(found, str) and found.endswith(("\n", "\r")):
        return (
            " (the value ends with a newline: file:// keeps the file's last newline, as the "
            "AWS CLI does; remove it from the file)"
        )
    if error_type != "string_type":
        return ""
    if isinstance(found, list):
        return (
            " (got a list: in shorthand syntax a value with commas needs quotes, "
            "as in Key='a,b', or \\, before each comma)"
        )
    if isinstance(found, dict):
        return " (got a structure)"
    return ""


def _parameter_error(exc: ValidationError, document: RequestDocument) -> ParameterError:
    origins = document.origins
    fallback = next(iter(set(origins.values()) & {CLI_INPUT_JSON, CLI_INPUT_YAML}), "request")
    problems = []
    missing = []
    for problem in validation.problems(exc):
        location = list(problem.location)
        message = problem.message
        if problem.missing and len(location) == 1 and location[0] in BY_MEMBER:
            missing.append(BY_MEMBER[location[0]].flag)
            continue
        if problem.unknown:
            message = "unknown member"
        message += _hint(problem.kind, _found(document.members, location))
        member = location[0] if location else ""
        origin = origins.get(member, fallback)
        if origin in (CLI_INPUT_JSON, CLI_INPUT_YAML):
            path = ".".join(location)  # the file's own member names, as the user wrote them
        else:
            path = ".".join(location[1:])  # inside the flag's structure or map
        problems.append((origin, f"{path}: {message}" if path else message))
    return ParameterError(problems, missing)
