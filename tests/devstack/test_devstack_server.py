"""The DevStack lifecycle, the moto extension's installation and ``python -m devstack``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from moto.cognitoidp.responses import CognitoIdpResponse

from devstack import DevStack, DevStackAdmin
from devstack.cognito import install, resend_confirmation_code

pytestmark = pytest.mark.integration


def _health(endpoint_url: str) -> bool:
    try:
        url = f"{endpoint_url}/_devstack/health"  # http://127.0.0.1:PORT
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310
            return bool(json.load(answer)["ok"])
    except urllib.error.URLError:
        return False


def test_context_manager_starts_and_stops_on_an_ephemeral_port() -> None:
    stack = DevStack()
    with pytest.raises(RuntimeError):
        _ = stack.endpoint_url
    with stack:
        url = stack.endpoint_url
        assert url.startswith("http://127.0.0.1:")
        assert int(url.rsplit(":", 1)[1]) > 0
        assert _health(url)
        assert stack.start() is stack  # starting twice keeps the same server
        assert stack.endpoint_url == url
    assert not _health(url)
    stack.stop()  # stopping twice is harmless


def test_install_is_idempotent() -> None:
    install()
    install()
    assert CognitoIdpResponse.resend_confirmation_code is resend_confirmation_code  # type: ignore[attr-defined]


def test_module_entry_point_serves_and_prints_resources() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--provision", "--users", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("devstack listening on http://127.0.0.1:")
        endpoint = first.split()[-1]
        lines = []
        while True:
            line = process.stdout.readline()
            assert line, "the process ended before printing the resources"
            lines.append(line)
            if line == "}\n":
                break
        printed = json.loads("".join(lines))
        assert printed["worker_env"]["AWS_ENDPOINT_URL"] == endpoint
        assert [u["username"] for u in printed["resources"]["users"]] == [
            "user-0000",
            "user-0001",
            "user-confirmed",
        ]
        assert DevStackAdmin(endpoint).calls().total == 0  # reachable from another process
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
        if process.stderr:
            process.stderr.close()
