"""Fixture apps written as JitAi writes its files, copied to a temporary folder and opened."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import jitlite

APPS = Path(__file__).resolve().parent / "apps"


@pytest.fixture
def jitai_root(tmp_path: Path) -> Callable[[str], Path]:
    """Return a function copying a fixture app (tests/jitai/apps/<name>) to a fresh folder."""

    def copy(name: str) -> Path:
        source = APPS / name
        if not (source / "app.json").is_file():
            raise AssertionError(f"fixture app {name!r} is missing: expected {source}/app.json")
        root = tmp_path / name
        shutil.copytree(source, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml", "__pycache__"))
        return root

    return copy


@pytest.fixture
def crm(jitai_root: Callable[[str], Path]) -> jitlite.App:
    """Return the JitAi-style CRM app (models, a database, a cache and a service as JitAi writes them)."""
    return jitlite.App(jitai_root("crm"), environ={})
