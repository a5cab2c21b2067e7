"""The Dockerfile, its ignore file and its lock: linted, pinned, non-root, and consistent."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from worker.settings import Settings

from .artifacts import (
    DOCKERFILE,
    DOCKERIGNORE,
    LOCK,
    REPO,
    configmap_env,
    dockerfile_stages,
    env_assignments,
    exec_form,
    healthcheck_command,
    setting,
    stage_env,
)
from .dockerignore import is_excluded, rules

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
BASE_IMAGE = re.compile(r"python:3\.11\.\d+-slim-bookworm")


def _runtime(keyword: str) -> list[str]:
    return [i.value for i in dockerfile_stages()[-1] if i.keyword == keyword]


def test_hadolint_is_clean() -> None:
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_stage_uses_the_same_pinned_slim_python() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "multi-stage: build tools stay out of the runtime image"
    bases = {stage[0].value.split()[0] for stage in stages}
    # One base for all: the venv copied between stages points at its interpreter.
    assert len(bases) == 1
    (base,) = bases
    assert BASE_IMAGE.fullmatch(base.split("@")[0]), base
    (labels,) = [env_assignments(v) for v in _runtime("LABEL")]
    assert labels["org.opencontainers.image.base.name"].endswith("/" + base.split("@")[0])


def test_runtime_runs_the_console_script_as_a_numeric_non_root_user() -> None:
    (user,) = _runtime("USER")
    uid, gid = user.split(":")
    assert uid.isdigit() and gid.isdigit() and int(uid) > 0 and int(gid) > 0
    (entrypoint,) = _runtime("ENTRYPOINT")
    (cmd,) = _runtime("CMD")
    # Exec form, so SIGTERM reaches the worker rather than a shell.
    assert exec_form(entrypoint) == ["resend-worker"]
    assert exec_form(cmd) == ["run"]
    assert "resend-worker" in PYPROJECT["project"]["scripts"]
    assert _runtime("STOPSIGNAL") in ([], ["SIGTERM"])


def test_runtime_environment_suits_a_read_only_root() -> None:
    env = stage_env(dockerfile_stages()[-1])
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env.get("TMPDIR", "/tmp") == "/tmp"


def test_the_venv_is_copied_to_the_path_it_was_built_at() -> None:
    build, runtime = dockerfile_stages()[0], dockerfile_stages()[-1]
    venv = stage_env(build)["VIRTUAL_ENV"]
    copies = [i.value.split() for i in runtime if i.keyword == "COPY"]
    assert [f"--from={build[0].value.split()[-1]}", venv, venv] in copies
    assert stage_env(runtime)["PATH"].startswith(f"{venv}/bin:")


def test_exposed_port_is_the_metrics_port() -> None:
    default = Settings.model_fields["metrics_port"].default
    assert _runtime("EXPOSE") == [str(default)]
    assert int(setting(configmap_env(), "RESEND_METRICS_PORT")) == default


def test_labels_describe_the_package() -> None:
    (labels,) = [env_assignments(v) for v in _runtime("LABEL")]
    for key in ("title", "description", "version", "revision", "licenses"):
        assert labels[f"org.opencontainers.image.{key}"], key
    assert labels["org.opencontainers.image.licenses"] == PYPROJECT["project"]["license"]["text"]
    args = dict(a.split("=", 1) for a in _runtime("ARG") if "=" in a)
    assert args["VERSION"] == PYPROJECT["project"]["version"]


def test_build_context_holds_what_the_build_copies_and_nothing_private() -> None:
    ignore = rules(DOCKERIGNORE)
    copied = [
        token
        for stage in dockerfile_stages()
        for i in stage
        if i.keyword == "COPY" and "--from" not in i.value
        for token in i.value.split()[:-1]
    ]
    assert copied
    for source in copied:
        assert not is_excluded(source, ignore), source
    package_files = [
        p.relative_to(REPO).as_posix()
        for package in ("worker", "contract/resend_contract")
        for p in (REPO / package).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert "contract/resend_contract/schemas/request.schema.json" in package_files
    for package_file in package_files:
        assert not is_excluded(package_file, ignore), package_file
    for private in (
        ".git/config",
        ".venv/bin/python",
        ".env",
        "tests/deploy/test_image.py",
        "deploy/kubernetes/secret.example.yaml",
        "worker/__pycache__/settings.cpython-311.pyc",
        "worker/dedupe/__pycache__/base.cpython-311.pyc",
        "client-secrets.json",
    ):
        assert is_excluded(private, ignore), private


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _run_healthcheck(port: int) -> int:
    command = healthcheck_command()
    assert command[0] == "python"
    env = {**os.environ, "RESEND_METRICS_PORT": str(port)}
    return subprocess.run(
        [sys.executable, *command[1:]], env=env, capture_output=True, timeout=30, check=False
    ).returncode


def test_healthcheck_command_follows_healthz(health_server: ThreadingHTTPServer) -> None:
    port = int(health_server.server_address[1])
    _Health.status = 200
    assert _run_healthcheck(port) == 0
    _Health.status = 503
    assert _run_healthcheck(port) != 0


def test_healthcheck_command_fails_when_nothing_listens(
    health_server: ThreadingHTTPServer,
) -> None:
    port = int(health_server.server_address[1])
    health_server.shutdown()
    health_server.server_close()
    assert _run_healthcheck(port) != 0


def _locked() -> dict[str, tuple[Version, int]]:
    """Lock entries: name -> (pinned version, number of hashes)."""
    text = LOCK.read_text(encoding="utf-8")
    entries: dict[str, tuple[Version, int]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        line = block.strip().splitlines()[0] if block.strip() else ""
        if not line or line.startswith("#"):
            continue
        requirement = Requirement(line.rstrip("\\ ").strip())
        (spec,) = requirement.specifier
        assert spec.operator == "==", line
        entries[canonicalize_name(requirement.name)] = (
            Version(spec.version),
            block.count("--hash=sha256:"),
        )
    return entries


OWN_DISTRIBUTIONS = {"resend-contract"}


def test_lock_pins_every_dependency_with_hashes() -> None:
    locked = _locked()
    assert locked
    assert all(hashes >= 1 for _, hashes in locked.values())
    needed = [Requirement(r) for r in PYPROJECT["project"]["dependencies"]]
    needed += [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    for requirement in needed:
        name = canonicalize_name(requirement.name)
        if name in OWN_DISTRIBUTIONS:
            continue  # installed from this tree beside the worker, never from an index
        assert name in locked, f"{name} is not in requirements.lock: refresh it"
        assert requirement.specifier.contains(locked[name][0]), (
            f"requirements.lock pins {name}=={locked[name][0]}, outside {requirement}"
        )


def test_lock_refresh_command_is_documented() -> None:
    # pip-compile writes the command it was given in the lock's header.
    match = re.search(
        r"^#[ \t]+(\S.*pip-compile .*--output-file.*)$", LOCK.read_text(encoding="utf-8"), re.M
    )
    assert match, "requirements.lock has no pip-compile header"
    command = match.group(1).strip()
    readme = (REPO / "deploy" / "README.md").read_text(encoding="utf-8")
    assert "pip-compile" in command and command in readme
