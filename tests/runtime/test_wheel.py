"""Packaging: the built wheel, installed in a clean virtualenv, runs `jitlite check` on an app elsewhere."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from ..conftest import DEMO_APP, ROOT


@pytest.mark.slow
def test_wheel_install_gives_the_command_and_the_official_types(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
                   check=True, timeout=300)
    [wheel] = dist.glob("jitlite-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in ("jitlite/types/auths/loginTypes/QywxProxyType/e.json",
                     "jitlite/types/auths/loginTypes/Meta/e.json",
                     "jitlite/types/auths/loginTypes/QywxProxyType/services/QywxProxyAuthService/e.json",
                     "jitlite/types/corps/QywxProxyType/schema.py",
                     "jitlite/compat/jit/errcode.py",
                     "jitlite/compat/jit/commons/utils/logger.py",
                     "jitlite/py.typed"):
        assert required in names, f"{required} is missing from the wheel"
    assert not any(name.startswith(("tests/", "elements/")) for name in names)

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
                   check=True, timeout=600)

    app = tmp_path / "somewhere" / "myapp"
    shutil.copytree(DEMO_APP, app)
    result = subprocess.run([str(env_dir / "bin" / "jitlite"), "check", str(app)], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "OK: app 'jitliteDemo'" in result.stdout

    probe = ("import jitlite, sys; app = jitlite.App(sys.argv[1]); "
             "print(type(app.getElement('auths.QywxProxyTemp')).__module__)")
    result = subprocess.run([str(python), "-c", probe, str(app)], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "jitlite.types.auths.loginTypes.QywxProxyType"
    assert str(ROOT) not in result.stdout
