"""What the benchmarks share: a fresh copy of the demo app (with its own appData), and percentiles."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO_APP = ROOT / "elements"


@contextmanager
def demo_copy(prefix: str = "jitlite-bench-") -> Iterator[Path]:
    """Yield a fresh copy of the demo app (its own appData), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        root = folder / "app"
        shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml", "__pycache__"))
        yield root
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def percentile(values: list[float], q: float) -> float:
    """Return the q-quantile of values (nearest rank), e.g. q=0.99 for the p99."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
