"""Each benchmark still runs (on tiny sizes) and ends with its one-line JSON result."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ROOT

SMALL = {
    "loader": ["--elements", "40", "--rounds", "1"],
    "storage": ["--rows", "500", "--repeat", "1"],
    "crypto": ["--messages", "60", "--rounds", "1", "--chunk", "20"],
    "group_insert": ["--threads", "4", "--rows", "20", "--rounds", "1"],
    "logins": ["--logins", "20", "--warmup", "8", "--chunk", "10"],
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_benchmark_runs(name: str) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), *SMALL[name]],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["bench"] == name and last["ratio"] > 0


def test_callbacks_embedded_benchmark_runs_and_loses_nothing() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "callbacks_load.py"), "--embedded", "--count", "60"],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    *_, details_line, last_line = result.stdout.strip().splitlines()
    last, details = json.loads(last_line), json.loads(details_line)
    assert set(last) == {"bench", "per_s", "baseline_per_s", "ratio"}
    assert last["bench"] == "callbacks_embedded" and last["ratio"] > 0
    assert (details["recorded"], details["lost"], details["duplicates_processed"], details["not_done"]) == (60, 0, 0, 0)
    assert details["deliveries"] == 66  # 10% delivered twice
