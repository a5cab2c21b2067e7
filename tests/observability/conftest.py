"""Locating Prometheus's tools: required in CI, optional on a developer's machine."""

from __future__ import annotations

import os
import shutil

import pytest


def require_binary(name: str) -> str:
    """The path of a Prometheus binary (Debian package `prometheus`).

    With CI=1 a missing binary fails the test, so a broken CI image cannot pass by skipping;
    elsewhere the test is skipped with the command that installs it.
    """
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found: apt-get install -y prometheus"
        if os.environ.get("CI") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    return require_binary("promtool")
