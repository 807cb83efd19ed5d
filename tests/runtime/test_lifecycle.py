"""An App's lifecycle: JitAi's hooks (onLoad, onCalled, onAppExit), close() and ``with``, typed getElement,
and two Apps in one process whose element code each resolves through its own layers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import jitlite
from jitlite import AppClosed, ElementTypeError
from jitlite.meta.services import Service
from jitlite.types.auths.loginTypes.QywxInnerType import QywxInnerAuth
from jitlite.types.auths.loginTypes.QywxProxyType import QywxProxyAuth

RECORDER = '''
from services.NormalType import NormalService

EVENTS = []


class Recorder(NormalService):
    events = EVENTS

    def onLoad(self):
        self.events.append(("onLoad", self.fullName))

    def onCalled(self):
        self.events.append(("onCalled", self.fullName))

    def onAppExit(self):
        self.events.append(("onAppExit", self.fullName))

    def close(self):
        self.events.append(("close", self.fullName))
'''

DEPENDENT = '''
from services.Recorder import Recorder


class Dependent(Recorder):
    def onLoad(self):
        self.getElement("services.Recorder")  # built first, so closed last
        super().onLoad()
'''

QUIET = '''
from services.NormalType import NormalService


class Quiet(NormalService):
    closed = []

    def onAppExit(self):
        raise RuntimeError("exit hook failed")

    def close(self, orderId):  # a business function named close: never called by App.close()
        self.closed.append(orderId)
'''


def service(name: str, code: str) -> dict[str, Any]:
    return {f"services/{name}/e.json": {"title": name, "type": "services.NormalType"},
            f"services/{name}/__init__.py": code}


@pytest.fixture
def hooks_app(make_app: Callable[..., Path]) -> Path:
    return make_app({**service("Recorder", RECORDER), **service("Dependent", DEPENDENT), **service("Quiet", QUIET)},
                    app_id="hooks")


def test_hooks_run_in_order_and_close_goes_newest_first(hooks_app: Path) -> None:
    app = jitlite.App(hooks_app, environ={})
    dependent = app.getElement("services.Dependent")
    events = dependent.events
    app.getElement("services.Recorder")
    assert events == [("onLoad", "services.Recorder"), ("onCalled", "services.Recorder"),
                      ("onLoad", "services.Dependent"), ("onCalled", "services.Dependent"),
                      ("onCalled", "services.Recorder")]
    events.clear()
    app.close()
    assert events == [("onAppExit", "services.Dependent"), ("onAppExit", "services.Recorder"),
                      ("close", "services.Dependent"), ("close", "services.Recorder")]
    app.close()  # idempotent
    assert len(events) == 4 and app.closed
    with pytest.raises(AppClosed, match=r"app 'hooks' is closed: getElement\('services.Recorder'\)"):
        app.getElement("services.Recorder")
    with pytest.raises(AppClosed):
        app.shared("anything", dict)


def test_a_failing_hook_is_logged_and_the_rest_still_close(hooks_app: Path, caplog: pytest.LogCaptureFixture) -> None:
    with jitlite.App(hooks_app, environ={}) as app:
        quiet = app.getElement("services.Quiet")
        recorder = app.getElement("services.Recorder")
    assert ("close", "services.Recorder") in recorder.events
    assert quiet.closed == []
    [record] = [r for r in caplog.records if r.name == "jitlite.lifecycle"]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "closing the app: services.Quiet.onAppExit() failed: RuntimeError: exit hook failed"


def test_with_closes_engines_caches_and_callback_workers(make_app: Callable[..., Path]) -> None:
    root = make_app({}, app_id="closing")
    with jitlite.App(root, environ={}) as app:
        database = app.defaultDatabase()
        with database.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        assert database.engine.pool.checkedin() == 1
        cache = app.defaultCache()
        cache.set("k", 1)
        assert len(cache.backend._connections) == 1
        callbacks = app.getElement("auths.loginTypes.QywxProxyType.services.QywxProxyAuthService")
        ticker = callbacks.inbox._ticker
        assert ticker.is_alive()
    assert database.engine.pool.checkedin() == 0
    assert len(cache.backend._connections) == 0
    assert not ticker.is_alive()


def test_an_element_built_while_the_app_closes_is_closed_not_handed_out(hooks_app: Path) -> None:
    app = jitlite.App(hooks_app, environ={})
    recorder = app.getElement("services.Recorder")

    def exit_and_build() -> None:
        recorder.events.append(("onAppExit", recorder.fullName))
        with pytest.raises(AppClosed):
            app.getElement("services.Dependent")  # not built yet: the closing app builds nothing

    recorder.onAppExit = exit_and_build
    app.close()
    assert ("onLoad", "services.Dependent") not in recorder.events


def test_get_element_with_a_class_is_checked(demo_app: jitlite.App) -> None:
    login = demo_app.getElement("auths.QywxProxyTemp", QywxProxyAuth)
    assert isinstance(login, QywxProxyAuth)
    with pytest.raises(ElementTypeError) as caught:
        demo_app.getElement("auths.QywxProxyTemp", QywxInnerAuth)
    message = str(caught.value)
    assert "auths.QywxProxyTemp is a jitlite.types.auths.loginTypes.QywxProxyType.QywxProxyAuth" in message
    assert "not a jitlite.types.auths.loginTypes.QywxInnerType.QywxInnerAuth" in message
    assert isinstance(caught.value, TypeError)
    # A Type element is its class: ask for `type`.
    assert demo_app.getElement("services.NormalType", type) is Service
    with pytest.raises(ElementTypeError, match=r"is the class jitlite\.meta\.services\.Service \(a Type or Meta\)"):
        demo_app.getElement("services.NormalType", Service)
    # From element code too.
    assert login.getElement("auths.QywxProxyTemp", QywxProxyAuth) is login


GREETER = '''
from services.NormalType import NormalService

WORD = {word!r}


class Greeter(NormalService):
    def word(self):
        return WORD
'''

CALLER = '''
from services.Greeter import WORD as LOADED_WITH
from services.NormalType import NormalService


class Caller(NormalService):
    def call(self):
        from services.Greeter import Greeter  # resolved when called, long after other apps were used
        return LOADED_WITH, Greeter.word(None), self.getElement("services.Greeter").word()
'''


def test_two_apps_resolve_their_own_element_code_used_alternately(make_app: Callable[..., Path]) -> None:
    one = jitlite.App(make_app({**service("Greeter", GREETER.format(word="one")), **service("Caller", CALLER)},
                               app_id="one"), environ={})
    two = jitlite.App(make_app({**service("Greeter", GREETER.format(word="two")), **service("Caller", CALLER)},
                               app_id="two"), environ={})
    for _ in range(2):
        assert one.getElement("services.Caller").call() == ("one", "one", "one")
        assert two.getElement("services.Caller").call() == ("two", "two", "two")
    two.activate()
    assert one.getElement("services.Caller").call() == ("one", "one", "one")


BASE_USER = '''
from services.NormalType import NormalService


class User(NormalService):
    def word(self):
        from services.Word import WORD
        return WORD
'''


def test_apps_extending_one_base_each_resolve_the_base_code_through_their_layers(
    make_app: Callable[..., Path]
) -> None:
    make_app(service("User", BASE_USER), app_id="base")
    apps = [jitlite.App(make_app({"services/Word/e.json": {"title": "W", "type": "services.NormalType"},
                                  "services/Word/__init__.py": f"from services.NormalType import NormalService\n"
                                                               f"WORD = {name!r}\n\n\nclass Word(NormalService):\n"
                                                               "    pass\n"},
                                 app_id=name, extends=["../base"]), environ={})
            for name in ("left", "right")]
    assert [app.getElement("services.User").word() for app in apps * 2] == ["left", "right", "left", "right"]
