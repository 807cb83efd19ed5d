"""getElement: every kind of element by fullName, lazily built once, with clear errors."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

import jitlite
from jitlite import ElementNotFound, InvalidElementName
from jitlite.meta import Corp, LoginType, ModelElement, Service

from ..conftest import PROXY_CONFIG


def test_seed_instances_and_their_properties(demo_app: jitlite.App) -> None:
    proxy = demo_app.getElement("auths.QywxProxyTemp")
    assert proxy.authType == "auths.loginTypes.QywxProxyType"
    assert proxy.authModelElemName == "auths.loginTypes.QywxProxyType.QywxProxyAuthModel"
    assert proxy.isActive is True
    assert proxy.authConfig == {"suiteId": "tjsandboxsuite0001", "suiteSecret": "******",
                                "encodingAESKey": "******", "token": "******"}
    assert proxy.getLoginConfig()["suiteId"] == "tjsandboxsuite0001"
    assert proxy.title == "WeCom Proxy Development Login Configuration"

    inner = demo_app.getElement("auths.loginTypes.QywxInnerExample")
    assert inner.authType == "auths.loginTypes.QywxInnerType"
    assert inner.authModelElemName == "auths.loginTypes.QywxInnerType.QywxInnerAuthModel"
    assert inner.authConfig["corpSecret"] == "******"
    assert inner.agentId == "1000002"

    wechat = demo_app.getElement("auths.loginTypes.MyWeChatLogin")
    assert wechat.authType == "WeChatType"
    assert wechat.authModelElemName == "auths.loginTypes.WeChatType.WeChatAuthModel"
    assert wechat.getLoginConfig() == {"isActive": True, "authType": "WeChatType",
                                       "authConfig": {"appId": "wxsandboxapp00001"}}
    assert wechat.authConfig == {"appId": "wxsandboxapp00001", "appSecret": "******"}

    corp = demo_app.getElement("corps.MyQywxProxyCorp")
    assert isinstance(corp, Corp)
    assert (corp.corpId, corp.authFullName, corp.corpFullName) == (
        "wwsandboxcorp0001", "auths.QywxProxyTemp", "corps.MyQywxProxyCorp")
    assert corp.title == "My WeCom Proxy Development Organization"
    assert corp.declaration.version == "1.0.0"


def test_secrets_stay_out_of_reprs(demo_app: jitlite.App) -> None:
    for name in ("auths.QywxProxyTemp", "auths.loginTypes.QywxInnerExample", "auths.loginTypes.MyWeChatLogin"):
        element = demo_app.getElement(name)
        for text in (repr(element), repr(element.config), repr(element.declaration), str(element.authConfig)):
            for secret in ("sandbox-suite-secret", "sandboxtoken", "sandbox-corp-secret", "sandbox-wechat-secret",
                           "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"):
                assert secret not in text


def test_metas_types_and_children_are_reachable(demo_app: jitlite.App) -> None:
    assert demo_app.getElement("auths.loginTypes.Meta") is LoginType
    proxy_type = demo_app.getElement("auths.loginTypes.QywxProxyType")
    assert issubclass(proxy_type, LoginType)
    assert isinstance(demo_app.getElement("auths.QywxProxyTemp"), proxy_type)
    service = demo_app.getElement("auths.loginTypes.QywxProxyType.services.QywxProxyAuthService")
    assert isinstance(service, Service)
    model = demo_app.getElement("auths.loginTypes.QywxProxyType.QywxProxyAuthModel")
    assert isinstance(model, ModelElement)
    for meta in ("corps.Meta", "services.Meta", "models.Meta", "databases.Meta", "caches.Meta"):
        assert isinstance(demo_app.getElement(meta), type)


def test_instances_are_cached(demo_app: jitlite.App) -> None:
    first = demo_app.getElement("auths.QywxProxyTemp")
    assert demo_app.getElement("auths.QywxProxyTemp") is first


@pytest.mark.parametrize("bad", ["../x", "auths/x", "auths..x", "", ".auths", "auths.", "1auths", "a b",
                                 "auths.x\x00", "a" * 600])
def test_bad_full_names_are_rejected_before_any_lookup(demo_app: jitlite.App, bad: str) -> None:
    with pytest.raises(InvalidElementName, match="is not a valid element fullName"):
        demo_app.getElement(bad)


def test_non_string_full_name(demo_app: jitlite.App) -> None:
    with pytest.raises(InvalidElementName, match="must be a str"):
        demo_app.getElement(["auths"])  # type: ignore[call-overload]


def test_unknown_full_name_suggests(demo_app: jitlite.App) -> None:
    with pytest.raises(ElementNotFound) as caught:
        demo_app.getElement("auths.QywxProxyTmp")
    assert isinstance(caught.value, LookupError)
    assert str(caught.value) == ("no element named 'auths.QywxProxyTmp' in this app; "
                                 "did you mean 'auths.QywxProxyTemp'?")


def counting_app(make_app: Callable[..., Path], delay: float = 0.0) -> Path:
    """An app with a Type whose instances count their constructions and onLoad calls."""
    code = f'''
import threading, time
from jitlite.types.auths.loginTypes.QywxProxyType import QywxProxyAuth

CALLS = {{"init": 0, "onLoad": 0}}
_lock = threading.Lock()

class CountingAuth(QywxProxyAuth):
    def __init__(self, **kwargs):
        time.sleep({delay})
        with _lock:
            CALLS["init"] += 1
        super().__init__(**kwargs)

    def onLoad(self):
        with _lock:
            CALLS["onLoad"] += 1
        self.loaded = True
'''
    return make_app({
        "auths/loginTypes/CountingType/e.json": {"title": "Counting", "type": "auths.loginTypes.QywxProxyType",
                                                 "isType": True, "className": "CountingAuth"},
        "auths/loginTypes/CountingType/__init__.py": code,
        "auths/Counted/e.json": {"title": "Counted", "type": "auths.loginTypes.CountingType"},
        "auths/Counted/Counted.json": PROXY_CONFIG,
    }, app_id=f"counting{int(delay * 1000)}")


def test_type_extending_a_type_inherits_schema_and_runs_on_load_once(make_app: Callable[..., Path]) -> None:
    app = jitlite.App(counting_app(make_app), environ={})
    counted = app.getElement("auths.Counted")
    counting_type = app.getElement("auths.loginTypes.CountingType")
    assert type(counted) is counting_type
    assert counted.loaded is True
    assert counted.authType == "auths.loginTypes.CountingType"
    assert counted.config.authConfig.suiteId == "tj0001"  # schema inherited from QywxProxyType
    module = __import__(counting_type.__module__, fromlist=["CALLS"])
    assert module.CALLS == {"init": 1, "onLoad": 1}


def test_hundred_threads_build_the_instance_once(make_app: Callable[..., Path]) -> None:
    app = jitlite.App(counting_app(make_app, delay=0.05), environ={})
    barrier = threading.Barrier(100)
    results: list[object] = []

    def worker() -> None:
        barrier.wait()
        results.append(app.getElement("auths.Counted"))

    threads = [threading.Thread(target=worker) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 100
    assert all(r is results[0] for r in results)
    module = __import__(type(results[0]).__module__, fromlist=["CALLS"])
    assert module.CALLS == {"init": 1, "onLoad": 1}


def test_failed_build_is_not_cached(make_app: Callable[..., Path]) -> None:
    root = make_app({
        "auths/loginTypes/FlakyType/e.json": {"title": "Flaky", "type": "auths.loginTypes.QywxProxyType",
                                              "isType": True, "className": "Flaky"},
        "auths/loginTypes/FlakyType/__init__.py": (
            "from jitlite.types.auths.loginTypes.QywxProxyType import QywxProxyAuth\n"
            "ATTEMPTS = []\n"
            "class Flaky(QywxProxyAuth):\n"
            "    def onLoad(self):\n"
            "        ATTEMPTS.append(1)\n"
            "        if len(ATTEMPTS) == 1:\n"
            "            raise RuntimeError('database not ready')\n"),
        "auths/F/e.json": {"title": "F", "type": "auths.loginTypes.FlakyType"},
        "auths/F/F.json": PROXY_CONFIG,
    }, app_id="flaky")
    app = jitlite.App(root, environ={})
    with pytest.raises(jitlite.ElementBuildError, match=r"building auths\.F .*RuntimeError: database not ready"):
        app.getElement("auths.F")
    assert app.getElement("auths.F").fullName == "auths.F"


def test_class_name_errors(make_app: Callable[..., Path]) -> None:
    root = make_app({
        "auths/loginTypes/NoClass/e.json": {"title": "N", "type": "auths.loginTypes.QywxProxyType",
                                            "isType": True, "className": "Missing"},
        "auths/loginTypes/NoClass/__init__.py": "X = 1\n",
        "auths/loginTypes/Unrelated/e.json": {"title": "U", "type": "auths.loginTypes.QywxProxyType",
                                              "isType": True, "className": "Plain"},
        "auths/loginTypes/Unrelated/__init__.py": "class Plain:\n    pass\n",
    }, app_id="classerrors")
    app = jitlite.App(root, environ={})
    with pytest.raises(jitlite.ElementBuildError, match="className 'Missing' names no class"):
        app.getElement("auths.loginTypes.NoClass")
    with pytest.raises(jitlite.ElementBuildError, match="must subclass its type's class QywxProxyAuth"):
        app.getElement("auths.loginTypes.Unrelated")
    failures = app.checkClasses()
    assert len(failures) == 2


def test_inactive_login_refuses(make_app: Callable[..., Path]) -> None:
    root = make_app({"auths/Off/e.json": {"title": "Off", "type": "auths.loginTypes.QywxProxyType"},
                     "auths/Off/Off.json": {**PROXY_CONFIG, "isActive": False}}, app_id="inactive")
    login = jitlite.App(root, environ={}).getElement("auths.Off")
    assert login.isActive is False
    with pytest.raises(jitlite.JitliteError, match=r"login through auths\.Off is disabled"):
        login.requireActive()
