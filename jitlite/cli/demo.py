"""``jitlite demo``: the sandbox server and an app served together on loopback, wired as a real deployment is.

The sandbox stands in for WeCom and WeChat on one free port, the app's web layer on another, and
the app's settings point its API and login hosts at the sandbox. Then, over HTTP as in production:
the suite's callback URL is registered and verified (WeCom's GET with an echostr), a suite_ticket is
pushed, a sample enterprise authorises the suite (create_auth → permanent code) and its organisation
is synced. The demo prints the login page to open and the people who can log in, and serves until
Ctrl-C or SIGTERM. ``--once`` also logs one member in through the browser round trip (the login
page's redirect, the sandbox's login form, the callback, the session cookie), prints a summary and
exits, within ``--timeout`` seconds.
"""

from __future__ import annotations

import _thread
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console

from ..runtime.app import App
from .appopt import app_options
from .serve import quiet_request_log, stop_on_signals

__all__ = ["DemoFailed", "demo", "run_demo"]

PROXY_TYPE = "auths.loginTypes.QywxProxyType"
_HTTP_TIMEOUT = 10.0
_MAX_REDIRECTS = 8


class DemoFailed(click.ClickException):
    """A step of the demo did not do what it should; the message names the step and why."""


@dataclass
class DemoResult:
    """What the demo set up and checked."""

    sandboxUrl: str = ""
    appUrl: str = ""
    loginUrl: str = ""
    callbackUrl: str = ""
    corpId: str = ""
    corpName: str = ""
    members: int = 0
    departments: int = 0
    steps: list[str] = field(default_factory=list)
    loggedIn: dict[str, Any] = field(default_factory=dict)


class _Deadline:
    """Seconds left of the demo's time budget; ``check`` raises once it is spent."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self, cap: float) -> float:
        return max(0.1, min(cap, self.end - time.monotonic()))

    def check(self, step: str) -> None:
        if time.monotonic() > self.end:
            raise DemoFailed(f"{step}: the demo ran out of its {self.seconds:g} s")


def _admin(client: httpx.Client, method: str, path: str, step: str, **json: Any) -> dict[str, Any]:
    """Call the sandbox admin API; raise DemoFailed with its error if it refuses."""
    response = client.request(method, path, json=json or None)
    try:
        data: dict[str, Any] = response.json()
    except ValueError:  # not the admin API's JSON (a proxy's or server's error page)
        raise DemoFailed(f"{step}: the sandbox answered {response.status_code}: "
                         f"{response.text[:200]!r}") from None
    if response.status_code != 200 or not data.get("ok"):
        raise DemoFailed(f"{step}: the sandbox answered {response.status_code}: {data.get('error') or data}")
    return data


def _wait_records(service: Any, deadline: _Deadline, step: str, info_type: str) -> Any:
    """Wait until the service processed its callbacks; return the newest record of `info_type`, which must be done."""
    from ..storage import Q

    if not service.waitIdle(deadline.left(15.0)):
        raise DemoFailed(f"{step}: the app did not process the callback in time")
    row = service.records.get(Q(infoType=info_type), orderList=[["id", -1]])
    if row is None:
        raise DemoFailed(f"{step}: the app stored no {info_type} callback (see the sandbox's /sandbox/pushes)")
    if row.status != "done":
        raise DemoFailed(f"{step}: the {info_type} callback record {row.id} is {row.status}: {row.lastError}")
    return row


def _login(app_url: str, sandbox_url: str, auth_full_name: str, corp_id: str, member: str, member_name: str,
           deadline: _Deadline) -> dict[str, Any]:
    """Log `member` in as a browser does: the app's login redirect, the sandbox's page, the callback, /me."""
    from ..web import SESSION_COOKIE

    hops: list[str] = []
    with httpx.Client(timeout=deadline.left(_HTTP_TIMEOUT), follow_redirects=False) as browser:
        response = browser.get(f"{app_url}/login/{auth_full_name}", params={"next": "/me"})
        for _ in range(_MAX_REDIRECTS):
            if not response.is_redirect:
                break
            target = str(response.next_request.url) if response.next_request else response.headers["location"]
            hops.append(target.split("?")[0])
            deadline.check("login")
            if target.startswith(sandbox_url) and "/wwlogin/" in target:
                page = browser.get(target)  # the login page a person sees, with one form per member
                if page.status_code != 200 or member not in page.text:
                    raise DemoFailed(f"login: the sandbox login page ({page.status_code}) does not offer {member}")
                # Picking the member on that page posts the form back to the same URL.
                response = browser.post(target, data={"corpid": corp_id, "userid": member})
            else:
                response = browser.get(target)
        if response.status_code != 200:
            raise DemoFailed(f"login: ended on {response.url} with HTTP {response.status_code} after "
                             f"{' → '.join(hops)}: {response.text[:200]}")
        if not browser.cookies.get(SESSION_COOKIE):
            raise DemoFailed("login: the app set no session cookie")
        if member_name not in response.text:
            raise DemoFailed(f"login: the page after login ({response.url}) does not show {member_name}")
        admin = browser.get(f"{app_url}/admin")
        if admin.status_code != 200:
            raise DemoFailed(f"login: the admin page answered {admin.status_code} to an admin of the demo")
        session = browser.get(f"{app_url}/auth/session",
                              headers={"Authorization": f"Bearer {browser.cookies[SESSION_COOKIE]}"})
        if session.status_code != 200:
            raise DemoFailed(f"login: the session cookie is not a valid session ({session.status_code})")
        return {"page": str(response.url), "hops": hops, "session": session.json(), "html": response.text}


def run_demo(app: App, console: Console, *, once: bool, member: str = "wangfang", host: str = "127.0.0.1",
             port: int = 0, sandbox_port: int = 0, timeout: float = 60.0) -> DemoResult:
    """Run the demo on an open app: set everything up, then log in (`once`) or serve until interrupted."""
    from ..meta.corps import organisations, reconcile
    from ..sandbox.server import SandboxServer
    from ..sandbox.state import SandboxState
    from .serve import AppServer

    deadline = _Deadline(timeout)
    result = DemoResult()
    logins = app.instancesOf(PROXY_TYPE)
    if not logins:
        raise DemoFailed(f"the app has no {PROXY_TYPE} login element: the demo needs one (see ./elements)")
    sandbox = SandboxServer(SandboxState.with_defaults(), host=host, port=sandbox_port)
    server: AppServer | None = None
    try:
        sandbox.start()
        result.sandboxUrl = sandbox.url
        app.configure(wecomBaseUrl=sandbox.url, wecomLoginBaseUrl=sandbox.url, wechatBaseUrl=sandbox.url,
                      wechatOpenBaseUrl=sandbox.url)
        server = AppServer(app, host, port).start()
        result.appUrl = server.url
        console.print(f"sandbox (WeCom and WeChat) on {sandbox.url}; the app {app.appId!r} on {server.url}",
                      markup=False)
        login = app.getElement(logins[0])
        service = app.getElement(login.callbackServiceName)
        suite_id = login.suiteId
        corp_id = login.corpId or None
        with httpx.Client(base_url=sandbox.url, timeout=deadline.left(_HTTP_TIMEOUT)) as admin:
            console.rule("1. Register the callback URL; the sandbox verifies it (GET with echostr)")
            result.callbackUrl = f"{server.url}/callbacks/qywx-proxy/{login.fullName}"
            checked = _admin(admin, "POST", f"/sandbox/suites/{suite_id}/callback-url", "callback URL",
                             callback_url=result.callbackUrl)
            console.print(f"{result.callbackUrl} verified in {checked['checks']['callback_url']['elapsed']:.2f} s",
                          markup=False)
            result.steps.append("callback URL verified")
            deadline.check("callback URL")

            console.rule("2. WeCom pushes a suite_ticket")
            _admin(admin, "POST", f"/sandbox/suites/{suite_id}/ticket", "suite_ticket")
            row = _wait_records(service, deadline, "suite_ticket", "suite_ticket")
            console.print(f"callback record {row.id}: {row.note}", markup=False)
            result.steps.append("suite_ticket stored")

            console.rule("3. A sample enterprise installs the app: create_auth")
            if corp_id is None:
                overview = _admin(admin, "GET", "/sandbox/", "overview")
                corp_id = overview["corps"][0]["corp_id"]
            _admin(admin, "POST", "/sandbox/authorizations", "authorise", suite_id=suite_id, corp_id=corp_id)
            row = _wait_records(service, deadline, "create_auth", "create_auth")
            corp = login.corpAuth(corp_id)
            result.corpId, result.corpName = corp.corpId, corp.corpName
            console.print(f"callback record {row.id}: {row.note}; {corp.corpName} ({corp.corpId}), agent "
                          f"{corp.agentId}", markup=False)
            result.steps.append(f"{corp_id} authorised")

        console.rule("4. Sync its organisation")
        orgs = [o for o in organisations(app) if o.corpId == corp_id and o.authFullName == login.fullName]
        if not orgs:
            raise DemoFailed(f"sync: the app has no organisation of {corp_id} through {login.fullName}")
        for outcome in reconcile(app, only=orgs):
            if outcome.error:
                raise DemoFailed(f"sync of {outcome.corpFullName}: {outcome.error}")
            report = outcome.report or {}
            console.print(f"{outcome.corpFullName}: {report}", markup=False)
        result.members = sum(o.orgStore.members.query(o.orgStore.key, page=1, size=1)["totalCount"] for o in orgs)
        result.departments = sum(o.orgStore.depts.query(o.orgStore.key, page=1, size=1)["totalCount"] for o in orgs)
        console.print(f"synced: {result.members} members, {result.departments} departments", markup=False)
        result.steps.append("organisation synced")
        deadline.check("sync")

        result.loginUrl = f"{server.url}/login"
        with sandbox.state.lock:
            people = [(m.userid, m.name) for m in sandbox.state.corp(corp_id).members.values() if m.status == 1]
        if not app.settings.get("admins"):
            # In the demo the suggested member may open the admin page too (callbacks, "sync now").
            app.configure(admins=[f"{corp_id}:{member}"])
        console.rule("Open the app")
        console.print(f"Login page:   {result.loginUrl}\nSandbox page: {sandbox.url}/  (the demo credentials)\n"
                      f"Log in with \"{login.title or login.fullName}\" and pick a member of {result.corpName}: "
                      f"{', '.join(f'{name} ({userid})' for userid, name in people[:6])}"
                      f"{' …' if len(people) > 6 else ''}.\n"
                      f"Admins of the app (/admin): {', '.join(app.settings['admins'])}. "
                      "Every id and secret here is the sandbox's fake one.", markup=False)
        if once:
            console.rule(f"5. Log {member} in through HTTP")
            with sandbox.state.lock:
                person = sandbox.state.corp(corp_id).members.get(member)
            if person is None:
                raise DemoFailed(f"login: {corp_id} has no member {member!r}; pick one on {sandbox.url}/")
            result.loggedIn = _login(server.url, sandbox.url, login.fullName, corp_id, member, person.name, deadline)
            session = result.loggedIn["session"]
            console.print(f"{' → '.join(result.loggedIn['hops'])} shows {person.name}; session of user "
                          f"{session.get('userId')} in corp {session.get('corpId')}; /admin opens", markup=False)
            result.steps.append(f"{member} logged in")
            return result
        console.print("Serving until Ctrl-C.", markup=False)
        forever = threading.Event()
        while not forever.wait(3600):
            pass
        return result
    finally:
        if server is not None:
            server.stop()
        sandbox.stop()


@click.command("demo")
@app_options(positional=True)
@click.option("--once", is_flag=True, help="Run the flow headless, log one member in, print a summary and exit.")
@click.option("--member", default="wangfang", show_default=True, help="The sandbox member who logs in (--once).")
@click.option("--host", default="127.0.0.1", show_default=True, help="The interface both servers listen on.")
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="The app's port (default: a free one).")
@click.option("--sandbox-port", default=0, type=click.IntRange(0, 65535),
              help="The sandbox's port (default: a free one).")
@click.option("--verbose", "-v", is_flag=True, help="Log every HTTP request of both servers.")
@click.option("--timeout", default=60.0, show_default=True, type=click.FloatRange(1, 3600),
              help="With --once: fail if the flow takes longer.")
def demo(app_path: Path, once: bool, member: str, host: str, port: int, sandbox_port: int, verbose: bool,
         timeout: float) -> None:
    """Run the sandbox and the app together, wired as in production, and open the app's login page."""
    from . import _open, console, err_console

    started = time.monotonic()
    app = _open(app_path)
    watchdog: threading.Timer | None = None
    try:
        failures = app.checkClasses()
        if failures:
            for failure in failures:
                err_console.print(f"- {failure}", markup=False)
            raise DemoFailed(f"{len(failures)} element(s) of the app cannot be built")
        console.print(f"{app.title}: layers {' → '.join(app.layers)}; data in {app.appDataDir}", markup=False)
        if once:  # the last resort: interrupt a step that hangs past the budget (each step has its own timeout)
            watchdog = threading.Timer(timeout + 5.0, _thread.interrupt_main)
            watchdog.daemon = True
            watchdog.start()
        try:
            with stop_on_signals(), quiet_request_log(not verbose):
                result = run_demo(app, console, once=once, member=member, host=host, port=port,
                                  sandbox_port=sandbox_port, timeout=timeout)
        except KeyboardInterrupt:
            if once:
                raise DemoFailed(f"the demo did not finish within {timeout:g} s") from None
            console.print("stopped", markup=False)
            return
    finally:
        if watchdog is not None:
            watchdog.cancel()
        app.close()
    console.rule()
    console.print(f"Demo OK in {time.monotonic() - started:.1f} s: {'; '.join(result.steps)} — "
                  f"{result.members} members and {result.departments} departments of {result.corpName} "
                  f"({result.corpId}); sandbox {result.sandboxUrl}, app {result.appUrl}", markup=False)
