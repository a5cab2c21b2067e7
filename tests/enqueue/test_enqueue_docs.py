"""The docs' shell sessions, run against the local stack with the worker running.

Every ```console block of docs/producers.md is a session: lines starting with ``$ `` are
commands (a trailing backslash continues one), the lines after one are what it prints (stdout and
stderr together). A block runs in one bash process, in an empty directory, so exports carry on.
Three substitutions make a session runnable while keeping it readable:

- ``export NAME=value`` of the stack's own names (the endpoint, the queues, the client id) gets
  the running stack's value, and the output is compared with those values put back;
- ``$ cat FILE`` of a file that does not exist yet first writes the printed text to FILE, so a
  session can show its input files;
- UUIDs and timestamps compare as placeholders, since every run makes new ones.

The README's commands are checked too: its devstack command line parses, and its examples use
no variable the README never defines.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack import DevResources
from devstack.__main__ import _parser as devstack_parser

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "producers.md"
README = REPO / "README.md"
MARK = "@@command-"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
SECONDS = re.compile(r"\d[\d,]*/s\b")


@dataclass
class Step:
    command: str
    expected: str


def sessions(text: str) -> list[list[Step]]:
    blocks = re.findall(r"^```console\n(.*?)^```", text, flags=re.S | re.M)
    return [_steps(block) for block in blocks]


def _steps(block: str) -> list[Step]:
    steps: list[Step] = []
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        assert line.startswith("$ "), f"output before any command: {line!r}"
        command = line[2:]
        while command.endswith("\\"):
            i += 1
            command += "\n" + lines[i]
        i += 1
        output = []
        while i < len(lines) and not lines[i].startswith("$ "):
            output.append(lines[i])
            i += 1
        steps.append(Step(command, "".join(o + "\n" for o in output)))
    return steps


def stack_values(resources: DevResources) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": resources.endpoint_url,
        "RESEND_QUEUE_URL": resources.queue_url,
        "RESEND_BULK_QUEUE_URL": resources.bulk_queue_url,
        "RESEND_RESULTS_QUEUE_URL": resources.results_queue_url,
        "CLIENT_ID": resources.client_id,
    }


def run_session(steps: list[Step], resources: DevResources, workdir: Path) -> list[str]:
    """Each command's output, with the stack's values replaced by the session's own."""
    ours = stack_values(resources)
    written: dict[str, str] = {}
    script = ["set +e"]
    for number, step in enumerate(steps):
        command = step.command
        if command.startswith("export "):
            assignments = []
            for word in shlex.split(command)[1:]:
                name, _, value = word.partition("=")
                if name in ours:
                    written[ours[name]] = value
                    value = ours[name]
                assignments.append(f"{name}={shlex.quote(value)}")
            command = "export " + " ".join(assignments)
        cat = re.fullmatch(r"cat (\S+)", command)
        if cat and not (workdir / cat.group(1)).exists():
            (workdir / cat.group(1)).write_text(step.expected)
        # The marker must not change $?: the session may print the previous command's status.
        script.append(f"__status=$?; echo {MARK}{number}; (exit $__status)")
        script.append(f"{{ {command}\n}} 2>&1")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "COLUMNS": "100",
    }
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    outputs = re.split(rf"^{MARK}\d+\n", done.stdout, flags=re.M)[1:]
    assert len(outputs) == len(steps), done.stdout + done.stderr
    for real, shown in sorted(written.items(), key=lambda kv: -len(kv[0])):
        outputs = [output.replace(real, shown) for output in outputs]
    return outputs


def normalized(text: str) -> str:
    text = UUID.sub("<uuid>", text)
    text = TIMESTAMP.sub("<timestamp>", text)
    return SECONDS.sub("<rate>/s", text)


def test_the_docs_have_sessions() -> None:
    found = sessions(DOCS.read_text())
    assert len(found) >= 3
    assert all(found)


@pytest.mark.parametrize("index", range(len(sessions(DOCS.read_text()))))
def test_a_docs_session_prints_what_the_docs_show(
    index: int,
    resources: DevResources,
    worker_process: subprocess.Popen[bytes],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)  # the session exports what it needs
    steps = sessions(DOCS.read_text())[index]
    outputs = run_session(steps, resources, tmp_path)
    for step, output in zip(steps, outputs, strict=True):
        assert normalized(output) == normalized(step.expected), f"$ {step.command}"


def test_the_readme_devstack_command_parses() -> None:
    [line] = re.findall(r"`(?:\.venv/bin/)?python -m devstack([^`]*)`", README.read_text())
    devstack_parser().parse_args(shlex.split(line))


def test_the_readme_examples_use_only_variables_they_define() -> None:
    text = README.read_text()
    blocks = re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M)
    documented = {"RESEND_QUEUE_URL", "RESEND_RESULTS_QUEUE_URL"}
    for block in blocks:
        defined = set(re.findall(r"(?:export )?(\w+)=", block)) | documented
        used = set(re.findall(r"\$\{?(\w+)", block))
        assert used <= defined, used - defined


def test_every_option_of_the_command_is_documented() -> None:
    from resend_client.enqueue.cli import build_parser

    [commands] = [a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    text = DOCS.read_text()
    options = [o for a in commands.choices["enqueue"]._actions for o in a.option_strings]
    missing = [o for o in options if o.startswith("--") and o != "--help" and f"`{o}" not in text]
    assert "--priority" in options
    assert missing == []
