"""Building an App leaves the host's modules alone; element code imports elements by fullName.

Each case runs a real host program in a subprocess, with the host folder (or the app folder) as
its working directory and first on sys.path, as a user's program would run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FIXTURE = Path(__file__).resolve().parent.parent / "elements" / "host_project"


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """Return a copy of the host project (its app keeps appData beside it)."""
    root = tmp_path / "host_project"
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("__pycache__", "appData"))
    return root


def run(cwd: Path, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_host_modules_import_exactly_as_without_an_app(host: Path) -> None:
    without = run(host, "main.py", "--no-app")
    facts = run(host, "main.py")
    assert facts["host"] == without["host"]
    assert facts["host"]["models"] == "host models.py"
    assert facts["host"]["services.billing"] == "host services.billing"
    assert Path(facts["host"]["cmd"]).parent == Path(without["host"]["cmd"]).parent != host
    assert facts["host"]["cmd.Cmd"] == "Cmd"
    # The host's services package owns that top-level name: no element hides behind it.
    assert facts["hostServicesGreeter"] == "not found"


def test_element_names_no_host_module_takes_import_from_the_host(host: Path) -> None:
    facts = run(host, "main.py")
    assert facts["fromHost"] == ["jitlite.types.auths.loginTypes.QywxProxyType", "jitlite.types.corps.QywxProxyType"]


def test_element_code_resolves_full_names_through_the_layers(host: Path) -> None:
    element = run(host, "main.py")["element"]
    assert element["QywxProxyAuth"] == "jitlite.types.auths.loginTypes.QywxProxyType.QywxProxyAuth"
    assert element["QywxProxyCorp"] == "jitlite.types.corps.QywxProxyType.QywxProxyCorp"
    # Inside element code, `cmd`, `models` and `services` are the app's element folders.
    assert element["Tool"].endswith(".cmd.Tool") and element["Tool"].startswith("jitlite._layers.hostApp_")
    assert element["toolIsTheElementClass"] is True
    assert element["models"].startswith("jitlite._views.") and element["models"].endswith(".models")
    assert element["modelsHasNormalType"] is True
    assert element["cmd"].endswith(".cmd") and element["cmdIsElementFolder"] is True
    assert element["self"].endswith(".services.Greeter")
    assert element["json"] == "json"


def test_app_folder_on_sys_path_does_not_shadow_the_layers(host: Path) -> None:
    """Run from inside the app: its element folders are namespace packages on sys.path, not host modules."""
    code = (
        "import json, jitlite\n"
        "app = jitlite.App('.', environ={})\n"
        "import cmd\n"
        "from services.Greeter import Greeter\n"
        "print(json.dumps({'Greeter': Greeter.__module__, 'cmd': cmd.__file__,\n"
        "                  'same': type(app.getElement('services.Greeter')) is Greeter}))\n"
    )
    facts = run(host / "app", "-c", code)
    assert facts["Greeter"].startswith("jitlite._layers.hostApp_")
    assert facts["same"] is True
    assert not facts["cmd"].startswith(str(host))


def test_without_an_app_element_names_stay_unknown(host: Path) -> None:
    code = ("import json, jitlite\n"
            "try:\n    import corps\nexcept ImportError:\n    print(json.dumps('not found'))\n")
    assert run(host, "-c", code) == "not found"
