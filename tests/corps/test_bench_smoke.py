"""The org-sync benchmark still runs (on a small org) and ends with its one-line JSON result."""

from __future__ import annotations

import json
import subprocess
import sys

from ..conftest import ROOT


def test_corp_sync_benchmark_runs_small() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "corp_sync.py"), "--members", "300"],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    last = json.loads(result.stdout.strip().splitlines()[-1])
    assert last["bench"] == "corp_sync" and last["members"] == 300
    assert last["rows_written_resync"] == 0 and last["api_calls"] > 6 and last["ratio"] > 0
    assert set(last) == {"bench", "members", "sync_s", "resync_s", "api_floor_s", "baseline_s", "ratio",
                         "floor_ratio", "api_calls", "rows_written_resync", "peak_rss_mb"}
