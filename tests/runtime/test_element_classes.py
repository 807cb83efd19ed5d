"""Element classes by JitAi's convention (``__init__.py`` exports the folder's name) and JitAi's ``jit`` names.

Services and models bring their own class (their Types say ``requiresInstanceClass``): without a
``className`` or a same-name export, ``App()`` and ``jitlite check`` say so, never a silent fall-back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import jitlite
from jitlite.cli import main
from jitlite.meta.services import Service

SERVICE = "from services.NormalType import NormalService\n\n\nclass {name}(NormalService):\n    def hello(self):\n" \
          "        return {word!r}\n"


def service_files(name: str = "Billing", *, init: str | None = None, **files: str) -> dict[str, object]:
    """Return the files of services/<name>: e.json without className, and the given code files."""
    found: dict[str, object] = {f"services/{name}/e.json": {"title": name, "type": "services.NormalType"}}
    if init is not None:
        found[f"services/{name}/__init__.py"] = init
    for file, text in files.items():
        found[f"services/{name}/{file}.py"] = text
    return found


def test_the_class_exported_under_the_folder_name_is_the_element_class(make_app: Callable[..., Path]) -> None:
    root = make_app(service_files(init="from .service import Billing\n",
                                  service=SERVICE.format(name="Billing", word="billed")), app_id="exported")
    service: Any = jitlite.App(root, environ={}).getElement("services.Billing")
    assert type(service).__name__ == "Billing" and issubclass(type(service), Service)
    assert service.hello() == "billed"


def test_class_name_still_wins_over_the_same_name_export(make_app: Callable[..., Path]) -> None:
    root = make_app({**service_files(init="from .service import Billing, Other\n",
                                     service=SERVICE.format(name="Billing", word="billed")
                                     + "\n\n" + SERVICE.format(name="Other", word="other")),
                     "services/Billing/e.json": {"title": "B", "type": "services.NormalType", "className": "Other"}},
                    app_id="named")
    assert jitlite.App(root, environ={}).getElement("services.Billing").hello() == "other"


@pytest.mark.parametrize(
    ("files", "fragments"),
    [
        (service_files(service=SERVICE.format(name="Billing", word="x")),
         ["it has no __init__.py", "write `from .service import Billing` in __init__.py"]),
        (service_files(init="from .service import Bill\n", service=SERVICE.format(name="Bill", word="x")),
         ["__init__.py exports no class named 'Billing'", "from .service import Billing"]),
        (service_files(init='"""Nothing here."""\n'), ["exports no class named 'Billing'", "define class Billing in"]),
    ],
)
def test_a_service_without_its_class_is_a_load_problem(
    make_app: Callable[..., Path], files: dict[str, object], fragments: list[str]
) -> None:
    root = make_app(files, app_id="classless")
    with pytest.raises(jitlite.ElementLoadError) as caught:
        jitlite.App(root, environ={})
    [problem] = caught.value.problems
    assert (problem.full_name, problem.path, problem.where) == (
        "services.Billing", str(root / "services" / "Billing" / "e.json"), "className")
    assert problem.message.startswith("instances of services.NormalType bring their own class, but e.json names "
                                      "no className")
    for fragment in [*fragments, "or name the class in e.json's className"]:
        assert fragment in problem.render()
    # `jitlite check` says the same, and fails.
    result = CliRunner().invoke(main, ["check", str(root)])
    assert result.exit_code == 1 and "services.Billing" in result.stderr and fragments[0] in result.stderr


def test_a_model_without_its_class_is_a_load_problem(make_app: Callable[..., Path]) -> None:
    root = make_app({"models/Orders/e.json": {"title": "Orders", "type": "models.NormalType"},
                     "models/Orders/model.py": "x = 1\n"}, app_id="modelless")
    with pytest.raises(jitlite.ElementLoadError, match=r"instances of models\.NormalType bring their own class") as c:
        jitlite.App(root, environ={})
    assert "write `from .model import Orders` in __init__.py" in str(c.value)


@pytest.mark.parametrize(
    ("init", "fragment"),
    [
        ("from .service import *\n", "exports no class named 'Billing'"),  # reading cannot tell; importing can
        ("Billing = 3\n", "exports 'Billing', but it is a int, not a class"),
    ],
)
def test_what_only_importing_reveals_fails_get_element_and_check(
    make_app: Callable[..., Path], init: str, fragment: str
) -> None:
    root = make_app(service_files(init=init, service=SERVICE.format(name="Other", word="x")), app_id="dynamic")
    app = jitlite.App(root, environ={})
    with pytest.raises(jitlite.ElementBuildError, match=r"services\.Billing") as caught:
        app.getElement("services.Billing")
    assert fragment in str(caught.value)
    assert any(fragment in failure for failure in app.checkClasses())
    result = CliRunner().invoke(main, ["check", str(root)])
    assert result.exit_code == 1 and fragment in result.stderr


def test_syntax_errors_in_init_are_load_problems(make_app: Callable[..., Path]) -> None:
    root = make_app(service_files(init="from .service import (Billing\n"), app_id="broken")
    with pytest.raises(jitlite.ElementLoadError) as caught:
        jitlite.App(root, environ={})
    [problem] = caught.value.problems
    assert problem.path == str(root / "services" / "Billing" / "__init__.py")
    assert problem.message.startswith("invalid Python") and problem.where == "line 1"


def test_instances_of_types_without_code_need_no_class(demo_app: jitlite.App) -> None:
    # Login instances are config only: their class is their Type's.
    assert type(demo_app.getElement("auths.QywxProxyTemp")).__name__ == "QywxProxyAuth"


ELEMENT_CODE = (
    "import jit\n"
    "import jit.errcode\n"
    "from jit.errcode import Code\n"
    "from jit.commons.utils.logger import log\n"
    "from services.NormalType import NormalService\n\n\n"
    "class Names(NormalService):\n"
    "    def facts(self):\n"
    "        return {'jit': jit.__name__, 'Code': Code.__module__ + '.' + Code.__qualname__,\n"
    "                'viaPackage': jit.errcode.Code is Code, 'log': log.name}\n"
)


def test_jit_names_resolve_inside_element_code(make_app: Callable[..., Path]) -> None:
    root = make_app(service_files("Names", init=ELEMENT_CODE), app_id="jitnames")
    facts = jitlite.App(root, environ={}).getElement("services.Names").facts()
    assert facts == {"jit": "jitlite.compat.jit", "Code": "jitlite.runtime.errcode.Code", "viaPackage": True,
                     "log": "jitlite.app"}


def run_host(cwd: Path, code: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_host_gets_jitlite_jit_only_when_it_has_none(make_app: Callable[..., Path], tmp_path: Path) -> None:
    root = make_app(service_files("Names", init=ELEMENT_CODE), app_id="jithost")
    code = ("import json, sys, jitlite\n"
            "from jit.errcode import Code\n"
            "from jitlite.runtime.errcode import Code as Runtime\n"
            f"app = jitlite.App({str(root)!r}, environ={{}})\n"
            "import jit\n"
            "print(json.dumps({'same': Code is Runtime, 'jit': getattr(jit, '__file__', ''),\n"
            "                  'element': app.getElement('services.Names').facts()['jit']}))\n")
    facts = run_host(tmp_path, code)
    assert facts["same"] is True and facts["jit"].endswith(os.path.join("jitlite", "compat", "jit", "__init__.py"))
    # A host with a jit package of its own keeps it; element code still gets JitAi's names.
    host = tmp_path / "host"
    (host / "jit").mkdir(parents=True)
    (host / "jit" / "__init__.py").write_text("OWN = True\n")
    (host / "jit" / "errcode.py").write_text("Code = 'the host code'\n")
    code = code.replace("getattr(jit, '__file__', '')", "getattr(jit, 'OWN', False)").replace(
        "Code is Runtime", "Code == 'the host code'")
    facts = run_host(host, code)
    assert facts == {"same": True, "jit": True, "element": "jitlite.compat.jit"}
