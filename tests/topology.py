"""The scale-out topology for the tests: deploy/local_topology.py loaded as a module, and its packages."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load() -> Any:
    spec = importlib.util.spec_from_file_location("jitlite_local_topology", ROOT / "deploy" / "local_topology.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


local_topology = _load()


def need_modules(*modules: str) -> None:
    """Skip unless these packages are installed (fail under CI=true, where they must be)."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if not missing:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {', '.join(missing)} is not installed (pip install -e '.[dev]')", pytrace=False)
    pytest.skip(f"{', '.join(missing)} is not installed")
