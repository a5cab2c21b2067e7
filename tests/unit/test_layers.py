"""The SQS and SNS adapters sit beneath the policy: they never import it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import worker

WORKER = Path(worker.__file__).resolve().parent
ADAPTERS = ["queue.py", "results.py", "batching.py", "delivery.py"]
POLICY = {"worker.processor", "worker.consumer", "worker.claims", "worker.app"}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("name", ADAPTERS)
def test_an_adapter_does_not_import_the_policy(name: str) -> None:
    assert not imported(WORKER / name) & POLICY
