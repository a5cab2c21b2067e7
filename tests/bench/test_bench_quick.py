"""The benchmark code still works: ``python -m bench --quick`` runs every item and writes its JSON.

Figures are not judged here (speed is proven by the benchmark, never by a timed test); this only
catches a benchmark broken by a change to the worker or to itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ITEMS = {"cpu", "goodput", "latency", "memory", "duplicates", "store_writes", "lanes"}
ITEMS |= {"quota_step", "scale_out", "duplicate_storm"}
# One figure per item that a working run always measures (a number, whatever its value).
MEASURED = {
    "cpu": "worker_msgs_per_s",
    "goodput": "one_goodput_fraction",
    "latency": "e2e_p99_ms",
    "memory": "dedupe_bytes_per_entry",
    "duplicates": "memory_calls_per_user",
    "store_writes": "redis_extra_ms",
    "lanes": "b_p95_ms",
    "quota_step": "down_settle_seconds",
    "scale_out": "r1_goodput_fraction",
    "duplicate_storm": "drain_msgs_per_s",
}


@pytest.mark.integration
@pytest.mark.timeout(620)
def test_quick_benchmark_runs_every_item(tmp_path: Path) -> None:
    output = tmp_path / "quick.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--output", str(output)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,  # ten items, each a few seconds of work plus its set-up
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-4000:]

    document = json.loads(output.read_text())
    assert document["mode"] == "quick"
    assert set(document["items"]) == ITEMS
    for name, item in document["items"].items():
        assert item["error"] is None, f"{name}: {item['error']}"
        rows = {row["key"]: row for row in item["rows"]}
        figure = rows[MEASURED[name]]
        assert isinstance(figure["median"], int | float), f"{name}: {figure}"
    assert "median" in completed.stdout and "target" in completed.stdout
