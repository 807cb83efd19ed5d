"""Fixtures shared by the whole suite."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import jitlite

if TYPE_CHECKING:  # imported by pytest as a plugin below; importing it first would skip its assert rewriting
    from jitlite.sandbox.testing import Sandbox

pytest_plugins = ["jitlite.sandbox.testing"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_APPS = Path(__file__).resolve().parent / "elements"
DEMO_APP = ROOT / "elements"


@pytest.fixture
def fixture_app() -> Callable[[str], Path]:
    """Return the path of a fixture app under tests/elements, failing loudly if it is missing."""

    def get(name: str) -> Path:
        path = FIXTURE_APPS / name
        if not (path / "app.json").is_file():
            raise AssertionError(f"fixture app {name!r} is missing: expected {path}/app.json")
        return path

    return get


@pytest.fixture
def demo_app() -> jitlite.App:
    """Return the default app (the seed instances) with an empty environment."""
    return jitlite.App(DEMO_APP, environ={})


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Path]:
    """Write an app from a {relative path: JSON object or text} mapping and return its folder."""

    def make(files: dict[str, Any], app_id: str = "testApp", **manifest: Any) -> Path:
        root = tmp_path / app_id
        root.mkdir(parents=True, exist_ok=True)
        # Apps keep a generated secrets key unless a test gives settings of its own.
        manifest.setdefault("settings", {"secretKeyFile": "appData/secret.key"})
        (root / "app.json").write_text(json.dumps({"appId": app_id, "title": "test app", **manifest}))
        for relative, content in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
            path.write_text(text, encoding="utf-8")
        return root

    return make


PROXY_CONFIG = {
    "authConfig": {
        "suiteId": "tj0001",
        "suiteSecret": "s3cret-suite",
        "encodingAESKey": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "token": "tok123",
    }
}


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep variables set in the developer's shell from leaking into apps built by tests."""
    for name in list(os.environ):
        if name.startswith(("qywx", "wechat")):
            monkeypatch.delenv(name)


@pytest.fixture
def open_demo(tmp_path: Path, sandbox: Sandbox) -> Iterator[Callable[[], jitlite.App]]:
    """Return a function that opens (or re-opens, as after a restart) a copy of the demo app on the sandbox.

    The copy is ``tmp_path / "demo"``; a test may add element folders there before the first open.
    """
    root = tmp_path / "demo"
    shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
    opened: list[jitlite.App] = []

    def open_app() -> jitlite.App:
        app = jitlite.App(root, environ={})
        sandbox.connect(app)
        opened.append(app)
        return app

    yield open_app
    for app in reversed(opened):
        app.close()


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """Run with the common umask 022, under which files are created world-readable by default."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def file_mode(path: Path) -> int:
    """Return a file's permission bits."""
    return stat.S_IMODE(path.stat().st_mode)
