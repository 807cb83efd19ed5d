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
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_benchmark_runs(name: str) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / f"{name}.py"), *SMALL[name]],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["bench"] == name and last["ratio"] > 0
