"""The pytest plugin works from `pytest_plugins`, and the package exports what it promises."""

from __future__ import annotations

import importlib
import inspect
import threading

import pytest

import jitlite.sandbox
from jitlite.sandbox import defaults

pytest_plugins = ["pytester"]


def test_plugin_gives_a_seeded_sandbox_and_stops_its_threads(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import threading
        from jitlite.sandbox.defaults import DEFAULT_CORP_ID, DEFAULT_AGENT_SECRET, DEFAULT_SUITE_ID

        pytest_plugins = ["jitlite.sandbox.testing"]

        def test_seeded(sandbox):
            with sandbox.client() as client:
                answer = client.get("/cgi-bin/gettoken", params={
                    "corpid": DEFAULT_CORP_ID, "corpsecret": DEFAULT_AGENT_SECRET}).json()
            assert answer["errcode"] == 0
            assert len(sandbox.state.org.corps[DEFAULT_CORP_ID].members) == 10
            assert sandbox.state.clock.frozen
            sandbox.state.start_ticket_thread(interval=60)

        def test_thread_did_not_outlive_the_test():
            names = [t.name for t in threading.enumerate()]
            assert "jitlite-sandbox-tickets" not in names, names
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert "jitlite-sandbox-tickets" not in [t.name for t in threading.enumerate()]


def test_defaults_match_the_demo() -> None:
    assert (defaults.DEFAULT_SUITE_ID, defaults.DEFAULT_SUITE_SECRET, defaults.DEFAULT_SUITE_TOKEN) == (
        "tjsandboxsuite0001", "sandbox-suite-secret", "sandboxtoken")
    assert defaults.DEFAULT_ENCODING_AES_KEY == "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    assert (defaults.DEFAULT_CORP_ID, defaults.DEFAULT_AGENT_ID, defaults.DEFAULT_AGENT_SECRET) == (
        "wwsandboxcorp0001", 1000002, "sandbox-corp-secret")
    assert (defaults.DEFAULT_WECHAT_APPID, defaults.DEFAULT_WECHAT_SECRET) == (
        "wxsandboxapp00001", "sandbox-wechat-secret")
    assert (defaults.DEFAULT_PROVIDER_CORP_ID, defaults.DEFAULT_PROVIDER_SECRET) == (
        "wwsandboxprovider01", "sandbox-provider-secret")


@pytest.mark.parametrize("module_name", [
    "jitlite.sandbox", "jitlite.sandbox.defaults", "jitlite.sandbox.orgdata", "jitlite.sandbox.state",
    "jitlite.sandbox.testing", "jitlite.sandbox.server", "jitlite.sandbox.models",
])
def test_all_lists_every_public_name(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = set(module.__all__)
    assert all(hasattr(module, name) for name in exported)
    if module is jitlite.sandbox:
        return  # the package re-exports; its own body defines nothing
    public = {name for name, value in vars(module).items()
              if not name.startswith("_") and getattr(value, "__module__", module_name) == module_name
              and (inspect.isclass(value) or inspect.isfunction(value))}
    assert public <= exported, public - exported
