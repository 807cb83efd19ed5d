"""QR login benchmark: jitlite's proxy (代开发) QR login round trip against a bare code-to-user handler.

One process: the demo app (a fresh copy; embedded defaults: SQLite database, shared SQLite cache) on
the in-process sandbox with the default corp authorised, driven through Flask's test client of
``jitlite.web.create_web_app(app)``. One login is the whole round trip a browser makes:

1. ``GET /auth/<PROXY>/qr-url`` (a fresh OAuth state, the corp's QR login URL);
2. the sandbox's WeCom login page: POST the member who scans, read the redirect's code and state;
3. ``POST /auth/<PROXY>/login-code`` (state consumed once, ``auth/getuserinfo`` + ``user/get`` on
   the corp token, the system user found or made, a one-time login code stored hashed);
4. ``POST /auth/session`` (the login code spent, a session token stored hashed), then
   ``GET /auth/session`` with the bearer token.

The baseline, in the same run with the same sandbox and browser client, is what a bare integration
does: a minimal Flask app with one route that takes the code from the sandbox's redirect, resolves
the member with the same WeCom calls the Type makes (``auth/getuserinfo``, then ``user/get``) on a
corp token fetched once, through an ``httpx.Client`` on the sandbox's in-process transport, and
answers JSON: no state, no login code, no user table, no session. The browser's part (the sandbox's
login page) is the same for both and counts in both.

The members of the default corp who may log in (status active) take turns. Both sides warm up first
(``--warmup`` logins each, not timed; the default covers every member, so each one's system user
exists before timing and the timed logins are returning users), then run in alternating chunks so
that machine noise hits both alike. The ``{"details": "logins", ...}`` line has every figure (p50/p99
per login, the time share of each step, WeCom API calls per login); the last line is
``{"bench": "logins", "per_s", "baseline_per_s", "ratio"}``. ``--profile N`` runs N more of our
logins under cProfile after the timed run and prints the top functions to stderr.
Usage: python bench/logins.py [--logins N] [--warmup W] [--chunk C] [--profile N]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from demo_app import demo_copy, percentile
from flask import Flask, jsonify, request
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

import jitlite
from jitlite.sandbox.defaults import DEFAULT_CORP_ID, DEFAULT_SUITE_ID
from jitlite.sandbox.inprocess import Sandbox
from jitlite.sandbox.state import SandboxState
from jitlite.web import create_web_app

PROXY = "auths.QywxProxyTemp"
SERVICE = "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService"
DATABASE = "databases.Default"
CORP = DEFAULT_CORP_ID
REDIRECT = "https://app.example/qywx/callback"
BARE_CALLBACK = "/qywx/callback"
#: Our round trip's steps, in order, as the details line names them.
STEPS = ("qr_url", "provider_page", "login_code", "session")
BARE_STEPS = ("provider_page", "callback")


@dataclass
class Side:
    """One side's timed logins: each login's seconds and the seconds spent in each step."""

    steps: tuple[str, ...]
    latencies: list[float] = field(default_factory=list)
    step_seconds: dict[str, float] = field(default_factory=dict)
    api_calls: int = 0  # requests to the sandbox's WeCom API (/cgi-bin/), the login page not counted

    def add(self, spent: dict[str, float]) -> None:
        """Record one login's step times."""
        self.latencies.append(sum(spent.values()))
        for step, seconds in spent.items():
            self.step_seconds[step] = self.step_seconds.get(step, 0.0) + seconds

    def figures(self, prefix: str = "") -> dict[str, Any]:
        """Return logins/s, p50/p99 and each step's share of the time, keys prefixed."""
        total = sum(self.latencies)
        return {f"{prefix}per_s": round(len(self.latencies) / total, 1),
                f"{prefix}p50_ms": round(statistics.median(self.latencies) * 1000, 3),
                f"{prefix}p99_ms": round(percentile(self.latencies, 0.99) * 1000, 3),
                f"{prefix}step_share": {s: round(self.step_seconds.get(s, 0.0) / total, 3) for s in self.steps},
                f"{prefix}step_mean_ms": {s: round(self.step_seconds.get(s, 0.0) * 1000 / len(self.latencies), 3)
                                          for s in self.steps},
                f"{prefix}wecom_api_calls_per_login": round(self.api_calls / len(self.latencies), 2)}


def _fail(what: str, response: Any) -> SystemExit:
    """Return the exit that reports an unexpected answer (status and the start of the body)."""
    status = getattr(response, "status_code", "?")
    body = response.get_data(as_text=True) if hasattr(response, "get_data") else response.text
    return SystemExit(f"{what} answered {status}: {body[:300]}")


def scan(browser: httpx.Client, login_url: str, userid: str) -> dict[str, str]:
    """Scan on the sandbox's WeCom login page as a member; return the redirect's query (code, state)."""
    redirect = browser.post(login_url, data={"userid": userid})
    if redirect.status_code != 302:
        raise _fail(f"the sandbox's login page for {userid}", redirect)
    return {key: values[0] for key, values in parse_qs(urlsplit(redirect.headers["location"]).query).items()}


# -- our side ----------------------------------------------------------------------------------------


def our_login(web: FlaskClient, browser: httpx.Client, userid: str) -> dict[str, float]:
    """Run one QR login through jitlite's web layer; return the seconds each step took."""
    clock = time.perf_counter
    began = clock()
    answer = web.get(f"/auth/{PROXY}/qr-url", query_string={"corpId": CORP, "redirectUri": REDIRECT})
    if answer.status_code != 200:
        raise _fail("qr-url", answer)
    url = answer.get_json()["url"]
    at_provider = clock()
    back = scan(browser, url, userid)
    at_login_code = clock()
    answer = web.post(f"/auth/{PROXY}/login-code",
                      json={"corpId": CORP, "code": back["code"], "state": back["state"], "loginType": "qr"})
    if answer.status_code != 200:
        raise _fail("login-code", answer)
    login = answer.get_json()
    at_session = clock()
    opened = web.post("/auth/session", json={"loginCode": login["loginCode"], "corpId": CORP, "platform": "web"})
    if opened.status_code != 200:
        raise _fail("POST /auth/session", opened)
    session = web.get("/auth/session", headers={"Authorization": f"Bearer {opened.get_json()['token']}"})
    if session.status_code != 200:
        raise _fail("GET /auth/session", session)
    ended = clock()
    current = session.get_json()
    if current.get("userId") != login["userId"] or current.get("corpId") != CORP:
        raise SystemExit(f"the session of {userid} names {current.get('userId')}/{current.get('corpId')}, "
                         f"not {login['userId']}/{CORP}")
    return {"qr_url": at_provider - began, "provider_page": at_login_code - at_provider,
            "login_code": at_session - at_login_code, "session": ended - at_session}


# -- the baseline ----------------------------------------------------------------------------------


def bare_app(http: httpx.Client, corp_id: str, corp_secret: str) -> Flask:
    """The baseline: take the code from WeCom's redirect, resolve the member, answer JSON; keep nothing.

    The corp token is fetched once and reused, as a bare integration that caches it would.
    """
    token = http.get("/cgi-bin/gettoken", params={"corpid": corp_id, "corpsecret": corp_secret}).json()
    if token.get("errcode"):
        raise SystemExit(f"the baseline's gettoken answered {token}")
    access_token = token["access_token"]
    web = Flask("bare-logins")

    @web.get(BARE_CALLBACK)
    def callback() -> Any:
        code = request.args.get("code", "")
        info = http.get("/cgi-bin/auth/getuserinfo", params={"access_token": access_token, "code": code}).json()
        if info.get("errcode") or not info.get("userid"):
            return jsonify({"error": info.get("errmsg", "not a member")}), 401
        member = http.get("/cgi-bin/user/get", params={"access_token": access_token, "userid": info["userid"]}).json()
        if member.get("errcode"):
            return jsonify({"error": member.get("errmsg")}), 502
        return jsonify({"userId": member["userid"], "name": member.get("name")})

    return web


def bare_login(web: FlaskClient, browser: httpx.Client, login_url: str, userid: str) -> dict[str, float]:
    """Run one login against the baseline; return the seconds each step took."""
    clock = time.perf_counter
    began = clock()
    back = scan(browser, login_url, userid)
    at_callback = clock()
    answer = web.get(BARE_CALLBACK, query_string={"code": back["code"], "state": back.get("state", "")})
    ended = clock()
    if answer.status_code != 200 or answer.get_json().get("userId") != userid:
        raise _fail(f"the baseline's callback for {userid}", answer)
    return {"provider_page": at_callback - began, "callback": ended - at_callback}


# -- the run -------------------------------------------------------------------------------------------


def authorise(app: jitlite.App, sandbox: Sandbox) -> None:
    """Push a suite ticket and authorise the default corp; wait until the app has processed both."""
    sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    sandbox.authorize(DEFAULT_SUITE_ID, CORP)
    if not app.getElement(SERVICE).waitIdle(60):
        raise SystemExit("the app did not process the suite ticket and create_auth within 60 s")
    if app.getElement(PROXY).corpAuth(CORP).status != "active":
        raise SystemExit(f"corp {CORP} is not active after create_auth")


class SqlCounter:
    """Count the SQL statements and commits an engine runs (only our side touches the database)."""

    def __init__(self, engine: Engine) -> None:
        self.statements = 0
        self.commits = 0
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, *args: Any) -> None:
        self.statements += 1

    def _commit(self, *args: Any) -> None:
        self.commits += 1


def run_chunks(sides: list[tuple[Side, Callable[[int], dict[str, float]]]], count: int, chunk: int,
               sandbox: Sandbox) -> None:
    """Run count logins on each side in alternating chunks (who goes first alternates too)."""
    done = 0
    while done < count:
        size = min(chunk, count - done)
        for side, login in sides:
            sandbox.state.clear_request_log()
            for index in range(done, done + size):
                side.add(login(index))
            side.api_calls += len(sandbox.state.request_log("/cgi-bin/*"))
        sides.reverse()
        done += size


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=2000, help="timed logins per side (default 2000)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed logins per side first (default 20)")
    parser.add_argument("--chunk", type=int, default=100,
                        help="logins per side before switching, 1 to 1000 (default 100)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="after the timed run, profile N more of our logins and print the top functions")
    args = parser.parse_args(argv)
    if args.logins < 1 or args.warmup < 0 or args.profile < 0:
        parser.error("--logins must be at least 1, --warmup and --profile at least 0")
    if not 1 <= args.chunk <= 1000:
        # The sandbox keeps its last 10 000 requests, and a chunk's API calls are counted from that log.
        parser.error("--chunk must be 1 to 1000")

    # The real clock (codes, states and tokens expire as they would); pushes retried without waiting.
    state = SandboxState.with_defaults(push_backoff=0.0)
    sandbox = Sandbox.start(state)
    try:
        with demo_copy("jitlite-bench-logins-") as root, sandbox.client() as browser, \
                httpx.Client(transport=sandbox.transport, base_url=sandbox.base_url) as api:
            app = jitlite.App(root, environ={})
            service = None
            try:
                sandbox.connect(app)
                service = app.getElement(SERVICE)  # opened before timing, as a running server has it
                authorise(app, sandbox)
                corp = state.org.corps[CORP]
                users = [m.userid for m in corp.members.values() if m.status == 1]
                authorisation = state.authorization(DEFAULT_SUITE_ID, CORP)
                if authorisation is None or not users:
                    raise SystemExit(f"the sandbox has no authorisation of {CORP} or no active member in it")
                ours_client = create_web_app(app).test_client()
                bare_client = bare_app(api, CORP, authorisation.permanent_code).test_client()
                bare_url = f"{sandbox.base_url}/wwlogin/sso/login?" + urlencode({
                    "login_type": "CorpApp", "appid": CORP, "agentid": authorisation.agent_id,
                    "redirect_uri": f"https://bare.example{BARE_CALLBACK}", "state": "bare"})

                def ours(index: int) -> dict[str, float]:
                    return our_login(ours_client, browser, users[index % len(users)])

                def bare(index: int) -> dict[str, float]:
                    return bare_login(bare_client, browser, bare_url, users[index % len(users)])

                for index in range(args.warmup):
                    ours(index)
                    bare(index)
                ours_side, bare_side = Side(STEPS), Side(BARE_STEPS)
                sql = SqlCounter(app.getElement(DATABASE).engine)
                run_chunks([(ours_side, ours), (bare_side, bare)], args.logins, args.chunk, sandbox)
                counted = sql.statements, sql.commits
                if args.profile:
                    profile(ours, args.profile)
            finally:
                if service is not None:
                    service.close()
                app.close()
    finally:
        state.close()

    figures, baseline = ours_side.figures(), bare_side.figures("baseline_")
    ratio = round(figures["per_s"] / baseline["baseline_per_s"], 3)
    details = {"details": "logins", "logins": args.logins, "warmup": args.warmup, "users": len(users),
               "ratio": ratio, **figures, "sql_statements_per_login": round(counted[0] / args.logins, 2),
               "sql_commits_per_login": round(counted[1] / args.logins, 2), **baseline}
    print(json.dumps(details), flush=True)
    print(json.dumps({"bench": "logins", "per_s": figures["per_s"], "baseline_per_s": baseline["baseline_per_s"],
                      "ratio": ratio}), flush=True)
    return 0


def profile(login: Callable[[int], dict[str, float]], count: int, top: int = 30) -> None:
    """Profile count logins and print the functions with the most own and cumulative time to stderr."""
    profiler = cProfile.Profile()
    profiler.enable()
    for index in range(count):
        login(index)
    profiler.disable()
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        print(f"-- profile of {count} logins, by {order} --\n{out.getvalue()}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
