"""Benchmark corps.QywxProxyType's org sync against the API floor and a straightforward baseline.

    .venv/bin/python bench/corp_sync.py [--members 100000] [--depts 2000] [--concurrency 8]

The sandbox serves a generated org (members over departments) over loopback HTTP from its own
process. One app (SQLite in a temporary folder) has a proxy-development login element and an
organisation for the sandbox corp. In one run it measures:

(a) ``syncCorp()`` from an empty database: pull, diff, write (members, departments, system users);
(b) the same sync again with nothing changed (it must write no row);
(c) the API floor: the very requests a sync makes, with the same concurrency, answers discarded;
(d) a baseline a user would write with wechatpy-style calls: ``department/list``, then
    ``user/list`` per department one after the other, one ORM insert per member.

A warm-up fetch runs first so the server answers every measured pass alike. With the default
settings, (a) hands most member writes to the sync's writer process (another core than the pull).
The last line is one JSON object; targets: ratio (baseline/sync) >= 5, floor_ratio (sync/floor)
<= 1.5, peak RSS of this process <= 300 MB, rows_written_resync = 0.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

import jitlite
from jitlite.sandbox.defaults import (
    DEFAULT_CORP_ID,
    DEFAULT_ENCODING_AES_KEY,
    DEFAULT_SUITE_ID,
    DEFAULT_SUITE_SECRET,
    DEFAULT_SUITE_TOKEN,
)
from jitlite.storage import Integer, JitList, Model, Stext, create_sqlite_engine

LOGIN = "auths.BenchLogin"
CORP = "corps.BenchCorp"


class NaiveMember(Model):
    """The table the baseline fills, one insert per member."""

    __tablename__ = "naive_member"
    corpId = Stext(max_length=64)
    userId = Stext(max_length=64)
    name = Stext(max_length=255, nullable=True)
    mobile = Stext(max_length=32, nullable=True)
    email = Stext(max_length=255, nullable=True)
    position = Stext(max_length=255, nullable=True)
    departments = JitList(nullable=True)
    status = Integer(nullable=True)


def start_sandbox(members: int, depts: int) -> tuple[subprocess.Popen[str], str]:
    """Start the sandbox server in its own process; return it and its URL."""
    code = ("from jitlite.sandbox.server import serve; "
            f"serve(port=0, members={members}, depts={depts}, ticket_interval=0, quiet=True)")
    process = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    line = process.stderr.readline()
    found = re.search(r"http://[0-9.]+:[0-9]+", line)
    if found is None:
        process.kill()
        raise SystemExit(f"the sandbox did not start: {line}{process.stderr.read()}")
    # Keep reading its stderr so the server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stderr or ()], daemon=True).start()
    return process, found.group(0)


def make_app(root: Path, url: str, concurrency: int) -> jitlite.App:
    """Write the benchmark app (login element and organisation) and open it."""
    files: dict[str, Any] = {
        "app.json": {"appId": "corpSyncBench", "title": "corp sync benchmark",
                     "settings": {"secretKeyFile": "appData/secret.key", "wecomBaseUrl": url,
                                  "orgSyncConcurrency": concurrency}},
        "auths/BenchLogin/e.json": {"title": "bench login", "type": "auths.loginTypes.QywxProxyType"},
        "auths/BenchLogin/BenchLogin.json": {"authConfig": {
            "suiteId": DEFAULT_SUITE_ID, "suiteSecret": DEFAULT_SUITE_SECRET,
            "encodingAESKey": DEFAULT_ENCODING_AES_KEY, "token": DEFAULT_SUITE_TOKEN}},
        "corps/BenchCorp/e.json": {"title": "bench corp", "type": "corps.QywxProxyType"},
        "corps/BenchCorp/BenchCorp.json": {"corpId": DEFAULT_CORP_ID, "authFullName": LOGIN},
    }
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    return jitlite.App(root, environ={})


def authorise(app: jitlite.App, url: str) -> None:
    """Have the sandbox corp authorise the suite, as the callbacks would have recorded it."""
    with httpx.Client(base_url=url, timeout=30) as admin:
        ticket = admin.post(f"/sandbox/suites/{DEFAULT_SUITE_ID}/ticket").raise_for_status().json()
        auth = admin.post("/sandbox/authorizations",
                          json={"suite_id": DEFAULT_SUITE_ID, "corp_id": DEFAULT_CORP_ID}).raise_for_status().json()
    login = app.getElement(LOGIN)
    now = time.time()
    login.saveSuiteTicket(ticket["suite_ticket"], now)
    login.applyAuthCode(auth["auth_code"], now)


def baseline(app: jitlite.App, folder: Path) -> tuple[float, int]:
    """Sync the way a straightforward script would; return (seconds, members inserted)."""
    client = app.getElement(CORP).getClient()
    naive = NaiveMember.bind(create_sqlite_engine(folder / "naive.sqlite3"))
    started = time.perf_counter()
    inserted: set[str] = set()
    for dept in client.department.list():
        for user in client.user.list(dept["id"]):
            if user["userid"] in inserted:
                continue
            naive.create({"corpId": DEFAULT_CORP_ID, "userId": user["userid"], "name": user.get("name"),
                          "mobile": user.get("mobile"), "email": user.get("email"),
                          "position": user.get("position"), "departments": user.get("department"),
                          "status": user.get("status")})
            inserted.add(user["userid"])
    return time.perf_counter() - started, len(inserted)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--depts", type=int, default=None, help="default: one per 50 members")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    depts = args.depts or max(2, args.members // 50)
    process, url = start_sandbox(args.members, depts)
    try:
        with tempfile.TemporaryDirectory(prefix="jitlite-corp-sync-") as tmp:
            app = make_app(Path(tmp) / "app", url, args.concurrency)
            authorise(app, url)
            corp = app.getElement(CORP)
            warm = corp.orgSync().fetch_only()
            print(f"warm-up fetch              {warm.seconds:7.2f} s  ({warm.apiCalls} API calls)", file=sys.stderr)

            first = corp.syncCorp()
            print(f"(a) sync                   {first['seconds']:7.2f} s  ({first['members']} members, "
                  f"{first['depts']} departments, {first['rowsWritten']} rows written, {first['apiCalls']} API "
                  "calls)", file=sys.stderr)
            again = corp.syncCorp()
            print(f"(b) unchanged re-sync      {again['seconds']:7.2f} s  ({again['rowsWritten']} rows written)",
                  file=sys.stderr)
            floor = corp.orgSync().fetch_only()
            print(f"(c) API floor              {floor.seconds:7.2f} s  ({floor.apiCalls} API calls)", file=sys.stderr)
            baseline_s, inserted = baseline(app, Path(tmp))
            print(f"(d) baseline               {baseline_s:7.2f} s  ({inserted} members, one insert each)",
                  file=sys.stderr)
            stored = corp.orgStore.members.query(corp.orgStore.key, fieldList=["memberId"], size=1)["totalCount"]
            if stored != first["members"] or inserted != first["members"]:
                raise SystemExit(f"member counts disagree: synced {first['members']}, stored {stored}, "
                                 f"baseline {inserted}")
    finally:
        process.terminate()
        process.wait(10)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {
        "bench": "corp_sync",
        "members": first["members"],
        "sync_s": round(first["seconds"], 3),
        "resync_s": round(again["seconds"], 3),
        "api_floor_s": round(floor.seconds, 3),
        "baseline_s": round(baseline_s, 3),
        "ratio": round(baseline_s / first["seconds"], 2),
        "floor_ratio": round(first["seconds"] / floor.seconds, 2),
        "api_calls": first["apiCalls"],
        "rows_written_resync": again["rowsWritten"],
        "peak_rss_mb": round(peak_rss_mb, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
