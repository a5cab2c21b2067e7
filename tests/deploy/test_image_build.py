"""The Dockerfile's build stage, run here without Docker: its instructions, in order, in a temp dir.

No container engine is available, so the build stage's COPY, WORKDIR, ENV and RUN instructions are
replayed on this machine: a fresh venv, the hash-checked lock with --no-deps, the package without
dependencies, ``pip check``. Then the console script the image's ENTRYPOINT names must run. The
paths are the only change (the venv and the work directory move under a temp dir); the commands
are read from the Dockerfile, so editing it changes what this test runs.

This is the suite's one slow test (a minute at most): it installs the lock, from pip's cache
or the index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .artifacts import DOCKERIGNORE, REPO, dockerfile_stages, env_assignments, exec_form
from .dockerignore import is_excluded, rules

STEP_TIMEOUT_SECONDS = 300


def _copy(sources: list[str], destination: Path, dest_is_dir: bool) -> None:
    ignore = rules(DOCKERIGNORE)
    for source in sources:
        origin = REPO / source
        assert origin.exists(), f"COPY {source}: not in the build context (the build would fail)"
        assert not is_excluded(source, ignore), f"COPY {source}: excluded by .dockerignore"
        if origin.is_dir():

            def skip(directory: str, names: list[str]) -> set[str]:
                base = Path(directory).relative_to(REPO).as_posix()
                return {n for n in names if is_excluded(f"{base}/{n}", ignore)}

            shutil.copytree(origin, destination, ignore=skip, dirs_exist_ok=True)
        else:
            target = destination / origin.name if dest_is_dir else destination
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)


def test_build_stage_installs_the_locked_worker_and_its_console_script_runs(
    tmp_path: Path,
) -> None:
    build = dockerfile_stages()[0]
    root = tmp_path / "root"
    venv = root / "opt" / "venv"
    workdir = root
    env = dict(os.environ)
    # `python` is this test run's interpreter, the same minor version as the base image's.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("VIRTUAL_ENV", None)
    for instruction in build[1:]:
        keyword, value = instruction.keyword, instruction.value
        if keyword == "ENV":
            env.update(env_assignments(value))
            env["VIRTUAL_ENV"] = str(venv)
        elif keyword == "WORKDIR":
            workdir = root / value.lstrip("/")
            workdir.mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            *sources, dest = value.split()
            assert not any(s.startswith("--") for s in sources), value
            target = workdir / dest if not dest.startswith("/") else root / dest.lstrip("/")
            _copy(sources, target, dest_is_dir=dest.endswith("/") or len(sources) > 1)
        elif keyword == "RUN":
            result = subprocess.run(
                ["/bin/sh", "-c", value],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                timeout=STEP_TIMEOUT_SECONDS,
                check=False,
            )
            assert result.returncode == 0, (
                f"Dockerfile line {instruction.line} failed:\n{result.stdout[-3000:]}\n"
                f"{result.stderr[-3000:]}"
            )
        else:
            raise AssertionError(f"line {instruction.line}: {keyword} is not replayed here")

    # The runtime stage runs ENTRYPOINT + CMD with the venv first on PATH.
    (entrypoint,) = [i.value for i in dockerfile_stages()[-1] if i.keyword == "ENTRYPOINT"]
    script = venv / "bin" / exec_form(entrypoint)[0]
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("RESEND_")}
    run_env["PATH"] = f"{venv / 'bin'}{os.pathsep}{run_env.get('PATH', '')}"
    run_env["PYTHONDONTWRITEBYTECODE"] = "1"
    helped = subprocess.run(
        [str(script), "--help"],
        env=run_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert helped.returncode == 0, helped.stderr[-3000:]
    assert "run" in helped.stdout
    # setuptools was only the build backend; it must not ship.
    leftovers = list((venv / "lib").glob("python3.*/site-packages/setuptools"))
    assert not leftovers
