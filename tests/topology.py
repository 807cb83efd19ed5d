"""The scale-out topology for the tests: deploy/local_topology.py loaded as a module, and its packages."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from typing import Any

import pytest

from .conftest import ROOT

# deploy/ holds scripts, not a package: imported from its folder, as bench/callbacks_load.py does.
if str(ROOT / "deploy") not in sys.path:
    sys.path.insert(0, str(ROOT / "deploy"))
local_topology: Any = importlib.import_module("local_topology")


def need_modules(*modules: str) -> None:
    """Skip unless these packages are installed (fail under CI=true, where they must be)."""
    missing = [name for name in modules if importlib.util.find_spec(name) is None]
    if not missing:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {', '.join(missing)} is not installed (pip install -e '.[dev]')", pytrace=False)
    pytest.skip(f"{', '.join(missing)} is not installed")
