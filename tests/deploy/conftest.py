"""Fixtures for the deployment tests."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No RESEND_*/AWS region variable of the test run leaks into a settings check."""
    for name in list(os.environ):
        if name.upper().startswith("RESEND_") or name.upper() in {
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
        }:
            monkeypatch.delenv(name)
