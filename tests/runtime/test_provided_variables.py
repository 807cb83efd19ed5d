"""The seams layers built on the runtime plug into: provided variables (JITLITE_SECRET_KEY) and pattern hints."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import jitlite
from jitlite.runtime import provided, settings
from jitlite.runtime.provided import ProvidedVariable, register_provided_variable
from jitlite.storage.secrets import SECRET_KEY_VARIABLE

from ..conftest import PROXY_CONFIG


@pytest.fixture
def pin_variable() -> Iterator[None]:
    """Register a provided variable PIN (kept in settings.pinFile, four digits) for one test."""

    def read_pin(path: Path) -> str:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("1234")
        return path.read_text().strip()

    register_provided_variable(ProvidedVariable(
        name="PIN", file_setting="pinFile", read_file=read_pin, how="pick four digits",
        problem=lambda value: None if value.isdigit() and len(value) == 4 else "PIN must be four digits",
        fix="set PIN to four digits"))
    yield
    provided._PROVIDED.pop("PIN")
    settings.KNOWN_SETTINGS.pop("pinFile")


@pytest.mark.usefixtures("pin_variable")
def test_a_provided_variable_is_filled_from_its_file_checked_and_masked(make_app: Callable[..., Path]) -> None:
    root = make_app({}, app_id="pinned", settings={"pinFile": "appData/pin.txt"},
                    variables=[{"name": "PIN", "required": True}])
    app = jitlite.App(root, environ={})
    assert app.envVars["PIN"] == "1234" and (root / "appData" / "pin.txt").read_text() == "1234"
    assert "1234" not in repr(app.envVars)
    with pytest.raises(jitlite.ElementLoadError) as caught:
        jitlite.App(root, environ={"PIN": "12ab"})
    [problem] = caught.value.problems
    assert (problem.message, problem.fix, problem.path) == (
        "PIN must be four digits", "set PIN to four digits", "the environment variable PIN")
    unfilled = make_app({}, app_id="unpinned", settings={}, variables=[{"name": "PIN", "required": True}])
    with pytest.raises(jitlite.ElementLoadError, match=r"required variable 'PIN' has no value") as caught:
        jitlite.App(unfilled, environ={})
    assert caught.value.problems[0].fix.endswith("(pick four digits)")


def test_storage_provides_the_secret_key(make_app: Callable[..., Path]) -> None:
    root = make_app({"auths/Proxy/e.json": {"title": "P", "type": "auths.loginTypes.QywxProxyType"},
                     "auths/Proxy/Proxy.json": PROXY_CONFIG}, app_id="keyed")
    app = jitlite.App(root, environ={})
    key = (root / "appData" / "secret.key").read_text().strip()
    assert app.envVars[SECRET_KEY_VARIABLE] == key and key not in repr(app.envVars)
    with pytest.raises(jitlite.ElementLoadError, match=r"JITLITE_SECRET_KEY is not a Fernet key"):
        jitlite.App(root, environ={SECRET_KEY_VARIABLE: "not-a-key"})


def test_wecom_fields_word_their_pattern(make_app: Callable[..., Path]) -> None:
    config = {"authConfig": {**PROXY_CONFIG["authConfig"], "suiteId": "tj 0001"}}
    root = make_app({"auths/Proxy/e.json": {"title": "P", "type": "auths.loginTypes.QywxProxyType"},
                     "auths/Proxy/Proxy.json": config}, app_id="badid")
    with pytest.raises(jitlite.ElementLoadError) as caught:
        jitlite.App(root, environ={})
    [problem] = caught.value.problems
    assert (problem.where, problem.message) == ("authConfig.suiteId", "must be 1 to 64 letters, digits, '_' or '-'")
    assert problem.fix == "copy the id exactly from the WeCom admin console, without spaces"
