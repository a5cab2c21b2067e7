"""Skeletons and the flag table, against botocore's service model and the worker's models."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from botocore import xform_name
from resend_client.enqueue.cli import main
from resend_client.enqueue.params import COGNITO_PARAMETERS, REQUEST_ID
from resend_client.enqueue.skeleton import input_shape, operation_model
from resend_contract.models import ResendRequest, Result


def shape_keys(shape: Any) -> Any:
    """The member names of a shape, nested; a map shows as its skeleton's one sample key."""
    if shape.type_name == "structure":
        return {name: shape_keys(member) for name, member in shape.members.items()}
    if shape.type_name == "map":
        return {"KeyName": None}
    return None


def skeleton_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: skeleton_keys(member) for key, member in value.items()}
    return None


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_input_skeleton_has_the_input_shape_members_in_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    skeleton = run_json(capsys, "--generate-cli-skeleton")
    assert skeleton_keys(skeleton) == shape_keys(input_shape())
    assert list(skeleton) == list(input_shape().members)
    assert set(skeleton) == {
        "ClientId",
        "SecretHash",
        "UserContextData",
        "Username",
        "AnalyticsMetadata",
        "ClientMetadata",
    }
    # Placeholders are empty strings, as in the AWS CLI's skeleton.
    assert skeleton["ClientMetadata"] == {"KeyName": ""}
    assert skeleton["UserContextData"] == {"IpAddress": "", "EncodedData": ""}


def test_input_is_the_default_and_yaml_input_says_the_same(
    capsys: pytest.CaptureFixture[str],
) -> None:
    default = run_json(capsys, "--generate-cli-skeleton")
    explicit = run_json(capsys, "--generate-cli-skeleton", "input")
    assert main(["--generate-cli-skeleton", "yaml-input"]) == 0
    as_yaml = yaml.safe_load(capsys.readouterr().out)
    assert default == explicit == as_yaml


def test_output_skeleton_is_a_full_result(capsys: pytest.CaptureFixture[str]) -> None:
    sample = run_json(capsys, "--generate-cli-skeleton", "output")
    result = Result.model_validate(sample)
    assert set(sample) == set(Result.model_fields)
    assert result.CodeDeliveryDetails is not None
    assert result.Error is not None
    assert result.Original is not None
    details = operation_model().output_shape.members["CodeDeliveryDetails"]
    assert set(result.CodeDeliveryDetails) == set(details.members)


def test_flags_are_the_aws_cli_names_of_the_input_members() -> None:
    members = input_shape().members
    assert [p.member for p in COGNITO_PARAMETERS] == list(members)
    for parameter in COGNITO_PARAMETERS:
        assert parameter.flag == "--" + xform_name(parameter.member, "-")
        shape = members[parameter.member]
        assert parameter.kind == shape.type_name


def test_flags_cover_the_worker_model_and_nothing_else() -> None:
    members = {p.member for p in COGNITO_PARAMETERS} | {REQUEST_ID.member}
    assert members == set(ResendRequest.model_fields)


def test_the_skeleton_round_trips_through_cli_input_json_validation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The unfilled template is rejected for its empty required values, by flag-less names."""
    skeleton = run_json(capsys, "--generate-cli-skeleton")
    status = main(["--queue-url", "http://127.0.0.1:1/q", "--cli-input-json", json.dumps(skeleton)])
    err = capsys.readouterr().err
    assert status == 252
    assert "argument --cli-input-json: ClientId: String should have at least 1 character" in err
    assert "argument --cli-input-json: Username: String should have at least 1 character" in err


def test_the_project_cli_runs_the_same_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    from resend_client.cli import main as project_main

    assert project_main(["enqueue", "--generate-cli-skeleton"]) == 0
    assert json.loads(capsys.readouterr().out) == run_json(capsys, "--generate-cli-skeleton")


def test_help_lists_every_request_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for parameter in (*COGNITO_PARAMETERS, REQUEST_ID):
        assert parameter.flag in text
