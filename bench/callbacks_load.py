"""Callback load benchmark: jitlite's stored-then-processed callbacks against a bare verify+decrypt handler.

Two modes, each against a baseline measured in the same run with the same load generator: a minimal
Flask app that verifies and decrypts with wechatpy and answers ``success`` storing nothing.

``--embedded``: one process, the app's embedded defaults (SQLite database and cache, callbacks
processed on the in-process runner), driven through Flask's test client, with suite tickets only
(the commonest callback, stored without a disk sync and coalesced in batches). Prints
``{"bench": "callbacks_embedded", "per_s", "baseline_per_s", "ratio", ...}``.

Default (full) mode: the sandbox's pusher encrypts the callbacks (mixed suite tickets, contact
changes and authorisation changes; ``--dup`` of them delivered twice, some out of order) and posts
them over loopback with bounded concurrency at 4 gunicorn workers (deploy/gunicorn.conf.py) on
PostgreSQL + Redis with one Celery worker; then at the baseline under the same gunicorn settings.
Needs JITLITE_TEST_PG_URL and JITLITE_TEST_REDIS_URL. Its last line is
``{"bench": "callbacks_load", "per_s", "baseline_per_s", "ratio", "p99_ms", "processed_per_s",
"lost", "duplicates_processed"}``; the embedded mode's line is printed before it.

Checks (both modes): every distinct callback recorded once and processed once, none lost, and (full
mode) no answer over 1 s, printed on a ``{"details": …}`` line before each result line.
Usage: python bench/callbacks_load.py [--embedded] [--count N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo_app import DEMO_APP, ROOT, demo_copy, percentile
from flask import Flask, request
from wechatpy.enterprise.crypto import WeChatCrypto

from jitlite.meta.inbox import CallbackInbox

TOKEN = "sandboxtoken"  # the demo app's suite (its app.json defaults)
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SUITE_ID = "tjsandboxsuite0001"
CORP_ID = "wwsandboxcorp0001"
CALLBACK_PATH = "/callbacks/qywx-proxy"
CALLBACKS = "auths.loginTypes.QywxProxyType.QywxProxyCallbackModel"
SERVICE = "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService"


@dataclass(frozen=True)
class Callback:
    """One delivery: the query, the encrypted body and the key of the payload it carries."""

    query: str
    body: str
    payload: int
    payload_hash: str  # of the plaintext, as the inbox stores it


def _payload(index: int, timestamp: str, mixed: bool) -> str:
    """Return the plaintext of callback number index: suite tickets, or (mixed) tickets, contact and auth changes."""
    kind = index % 10 if mixed else 0
    if kind < 6:
        return (f"<xml><SuiteId><![CDATA[{SUITE_ID}]]></SuiteId><InfoType><![CDATA[suite_ticket]]></InfoType>"
                f"<TimeStamp>{timestamp}</TimeStamp><SuiteTicket><![CDATA[bench-ticket-{index:08d}]]></SuiteTicket>"
                "</xml>")
    if kind < 9:
        return (f"<xml><SuiteId><![CDATA[{SUITE_ID}]]></SuiteId><AuthCorpId><![CDATA[{CORP_ID}]]></AuthCorpId>"
                f"<InfoType><![CDATA[change_contact]]></InfoType><TimeStamp>{timestamp}</TimeStamp>"
                f"<ChangeType><![CDATA[update_user]]></ChangeType><UserID><![CDATA[bench{index:08d}]]></UserID></xml>")
    return (f"<xml><SuiteId><![CDATA[{SUITE_ID}]]></SuiteId><AuthCorpId><![CDATA[{CORP_ID}]]></AuthCorpId>"
            f"<InfoType><![CDATA[change_auth]]></InfoType><TimeStamp>{timestamp}</TimeStamp>"
            # WeCom's change_auth carries nothing unique within a second; the State tag keeps the
            # bench's distinct callbacks distinct payloads (the dedup key is the payload's hash).
            f"<State><![CDATA[bench-{index:08d}]]></State></xml>")


def make_callbacks(count: int, *, dup: float, shuffle: float, mixed: bool, seed: int = 7) -> list[Callback]:
    """Encrypt count distinct callbacks as WeCom would; deliver dup of them twice; swap shuffle of neighbours."""
    rng = random.Random(seed)
    pusher = WeChatCrypto(TOKEN, AES_KEY, SUITE_ID)
    timestamp = str(int(time.time()))
    deliveries: list[Callback] = []
    for index in range(count):
        nonce = secrets.token_hex(8)
        plaintext = _payload(index, timestamp, mixed)
        wire = pusher.encrypt_message(plaintext, nonce, timestamp)
        signature = wire.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        deliveries.append(Callback(f"msg_signature={signature}&timestamp={timestamp}&nonce={nonce}", wire, index,
                                   CallbackInbox.payload_hash(plaintext)))
    # WeCom redelivers a callback it got no "success" for with the same nonce and body.
    deliveries += [deliveries[i] for i in rng.sample(range(count), int(count * dup))]
    rng.shuffle(deliveries[count:])
    merged: list[Callback] = []
    extra = deliveries[count:]
    step = max(1, count // max(1, len(extra))) if extra else count + 1
    for i, item in enumerate(deliveries[:count]):
        merged.append(item)
        if extra and (i + 1) % step == 0:
            merged.append(extra.pop())
    merged += extra
    for i in range(0, len(merged) - 1):  # some arrive out of order
        if rng.random() < shuffle:
            merged[i], merged[i + 1] = merged[i + 1], merged[i]
    return merged


def bare_app() -> Flask:
    """The baseline: verify and decrypt with wechatpy, answer success, store nothing."""
    crypto = WeChatCrypto(TOKEN, AES_KEY, SUITE_ID)
    web = Flask("bare-callbacks")

    @web.post(CALLBACK_PATH)
    def callback() -> tuple[str, int]:
        args = request.args
        crypto.decrypt_message(request.get_data(), args["msg_signature"], args["timestamp"], args["nonce"])
        return "success", 200

    return web


# -- embedded mode -----------------------------------------------------------------------------


def drive_test_client(web: Flask, deliveries: list[Callback]) -> tuple[float, list[float]]:
    """Post every delivery through Flask's test client; return the elapsed seconds and each answer's latency."""
    client = web.test_client()
    latencies: list[float] = []
    started = time.perf_counter()
    for item in deliveries:
        sent = time.perf_counter()
        response = client.post(f"{CALLBACK_PATH}?{item.query}", data=item.body, content_type="text/xml")
        latencies.append(time.perf_counter() - sent)
        if response.status_code != 200 or response.get_data() != b"success":
            raise SystemExit(f"callback answered {response.status_code} {response.get_data()[:200]!r}")
    return time.perf_counter() - started, latencies


def check_records(model: Any, deliveries: list[Callback]) -> dict[str, int]:
    """Count lost (sent, never recorded), duplicated and twice-processed payloads among the stored records."""
    rows = model.query(fieldList=["id", "status", "attempts", "payloadHash"], size=None)["rowDatas"]
    hashes = [row.payloadHash for row in rows]
    sent = {item.payload_hash for item in deliveries}
    return {"recorded": len(rows), "lost": len(sent - set(hashes)),
            "duplicates_recorded": len(hashes) - len(set(hashes)),
            "not_done": sum(1 for row in rows if row.status != "done"),
            "duplicates_processed": sum(1 for row in rows if row.attempts > 1)}


def embedded(count: int, dup: float, shuffle: float) -> dict[str, Any]:
    """Run the embedded mode; return its result line."""
    import jitlite
    from jitlite.web import create_web_app

    deliveries = make_callbacks(count, dup=dup, shuffle=shuffle, mixed=False)
    bare = bare_app()
    # The baseline runs before and after ours and the two are averaged, so a machine that gets
    # busier or quieter during the run moves both sides alike.
    bare_before, _ = drive_test_client(bare, deliveries)
    with demo_copy("jitlite-bench-callbacks-") as root:
        app = jitlite.App(root, environ={})
        web = create_web_app(app)
        service = app.getElement(SERVICE)  # opened before timing, as a running server has it
        seconds, latencies = drive_test_client(web, deliveries)
        began = time.perf_counter()
        if not service.waitIdle(600):
            raise SystemExit("the in-process runner did not finish within 600 s")
        drained = time.perf_counter() - began
        checks = check_records(app.getElement(CALLBACKS), deliveries)
        service.close()
        app.close()
    bare_after, _ = drive_test_client(bare, deliveries)
    bare_seconds = (bare_before + bare_after) / 2
    per_s, baseline = len(deliveries) / seconds, len(deliveries) / bare_seconds
    return {"bench": "callbacks_embedded", "per_s": round(per_s, 1), "baseline_per_s": round(baseline, 1),
            "ratio": round(per_s / baseline, 3), "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "processed_per_s": round(count / (seconds + drained), 1), "deliveries": len(deliveries),
            "mix": "suite_ticket", **checks}


# -- full mode: gunicorn + PostgreSQL + Redis + Celery --------------------------------------------


def _topology_module() -> Any:
    """Return deploy/local_topology.py as a module (deploy/ holds scripts, not a package)."""
    if str(ROOT / "deploy") not in sys.path:
        sys.path.insert(0, str(ROOT / "deploy"))
    import local_topology

    return local_topology


class CpuMeter:
    """CPU seconds each kind of process spent between two readings (Linux /proc; empty elsewhere).

    Kinds: the gunicorn workers, the Celery worker, PostgreSQL's backends, Redis, and this process
    (the load generator, plus the sandbox on its threads). Shows where a callback's time goes.
    """

    KINDS = (("gunicorn", "gunicorn"), ("celery", "celery"), ("postgres", "postgres"), ("redis", "redis-server"))

    def __init__(self) -> None:
        self._start = self._read()

    @classmethod
    def _read(cls) -> dict[tuple[str, str], float]:
        proc = Path("/proc")
        ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        found: dict[tuple[str, str], float] = {}
        if not proc.is_dir():
            return found
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            kind = "load generator" if entry.name == str(os.getpid()) else next(
                (name for name, marker in cls.KINDS if marker in command), None)
            if kind is not None:
                found[(kind, entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
        return found

    def per_callback_ms(self, count: int) -> dict[str, float]:
        """Return each kind's CPU milliseconds per callback since the meter was made."""
        totals: dict[str, float] = {}
        for (kind, pid), seconds in self._read().items():
            totals[kind] = totals.get(kind, 0.0) + seconds - self._start.get((kind, pid), 0.0)
        return {kind: round(seconds * 1000 / count, 2) for kind, seconds in sorted(totals.items())}


def drive_http(url: str, deliveries: list[Callback], concurrency: int) -> tuple[float, list[float], int]:
    """Post every delivery over loopback with bounded concurrency, redelivering (as WeCom) what was not
    answered ``success``; return elapsed seconds, each answer's latency, and how many were redelivered."""
    import httpx

    latencies: list[float] = []
    redelivered = 0
    lock = threading.Lock()
    items = iter(deliveries)

    def run() -> None:
        nonlocal redelivered
        with httpx.Client(base_url=url, timeout=10) as http:
            while True:
                with lock:
                    item = next(items, None)
                if item is None:
                    return
                for attempt in range(4):  # WeCom: the first try and 3 retries
                    sent = time.perf_counter()
                    try:
                        response = http.post(f"{CALLBACK_PATH}?{item.query}", content=item.body,
                                             headers={"Content-Type": "text/xml"})
                        ok = response.status_code == 200 and response.content == b"success"
                    except httpx.HTTPError:
                        ok = False
                    with lock:
                        latencies.append(time.perf_counter() - sent)
                        redelivered += attempt > 0
                    if ok:
                        break
                else:
                    raise SystemExit(f"callback {item.payload} was never answered success")

    started = time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started, latencies, redelivered


def full(count: int, dup: float, shuffle: float, concurrency: int) -> dict[str, Any]:
    """Run gunicorn (4 workers) on PostgreSQL + Redis + one Celery worker, and the bare baseline; return the line."""
    import jitlite
    from jitlite.sandbox import defaults
    from jitlite.sandbox.server import SandboxServer

    pg_url, redis_url = os.environ.get("JITLITE_TEST_PG_URL"), os.environ.get("JITLITE_TEST_REDIS_URL")
    if not pg_url or not redis_url:
        raise SystemExit("the full mode needs JITLITE_TEST_PG_URL and JITLITE_TEST_REDIS_URL (or run --embedded)")
    deliveries = make_callbacks(count, dup=dup, shuffle=shuffle, mixed=True)
    topo_module = _topology_module()
    folder = Path(tempfile.mkdtemp(prefix="jitlite-bench-load-"))
    with SandboxServer() as sandbox:
        topology = topo_module.Topology(DEMO_APP, folder / "topology", pg_url=pg_url, redis_url=redis_url,
                                        settings={"wecomBaseUrl": sandbox.url, "callbackSweepSeconds": 5.0})
        def baseline() -> tuple[float, list[float], dict[str, float]]:
            bare = topology.start_gunicorn(name="baseline", warm_path=CALLBACK_PATH,
                                           app_uri="callbacks_load:bare_app()", chdir=str(ROOT / "bench"))
            meter = CpuMeter()
            took, answered, _ = drive_http(bare, deliveries, concurrency)
            used = meter.per_callback_ms(len(deliveries))
            topology.stop("baseline")
            return took, answered, used

        try:
            # The baseline runs before and after ours (each alone on the machine) and the two are
            # averaged, so a machine that gets busier or quieter during the run moves both sides alike.
            bare_before, bare_latencies, bare_cpu = baseline()
            url = topology.start_gunicorn()
            topology.start_worker()
            # An authorised corp, so that contact and auth changes have something to act on.
            sandbox.state.update_suite(SUITE_ID, callback_url=f"{url}{CALLBACK_PATH}")
            sandbox.state.push_suite_ticket(SUITE_ID)
            sandbox.state.authorize(SUITE_ID, defaults.DEFAULT_CORP_ID)
            web = jitlite.App(topology.app_dir, environ={k: topology.env[k] for k in ("PG_URL", "REDIS_URL")})
            try:
                model = web.getElement(CALLBACKS)
                _wait_processed(model, 2, 60)
                model.deleteByFilter("Q(id__gt=0)")  # the set-up's own callbacks are not part of the run
                began, meter = time.perf_counter(), CpuMeter()
                seconds, latencies, redelivered = drive_http(url, deliveries, concurrency)
                _wait_processed(model, count, float(os.environ.get("BENCH_PROCESS_TIMEOUT", "1800")))
                processed_seconds = time.perf_counter() - began
                cpu = meter.per_callback_ms(len(deliveries))
                checks = check_records(model, deliveries)
                failed = model.query("Q(status='failed')", fieldList=["id"], size=1)["totalCount"]
                # For the reader: the distinct errors of records that failed or wait for a retry.
                erred = model.query("Q(lastError__isnull=False)", fieldList=["infoType", "lastError"],
                                    size=None)["rowDatas"]
                reasons = Counter(f"{row.infoType}: {row.lastError.splitlines()[0][:160]}" for row in erred)
            finally:
                web.close()
            topology.stop("worker")
            topology.stop("gunicorn")
            bare_after, more_latencies, _ = baseline()
            bare_seconds = (bare_before + bare_after) / 2
            bare_latencies += more_latencies
        finally:
            topology.close()
            shutil.rmtree(folder, ignore_errors=True)
    per_s, baseline = len(deliveries) / seconds, len(deliveries) / bare_seconds
    return {"bench": "callbacks_load", "per_s": round(per_s, 1), "baseline_per_s": round(baseline, 1),
            "ratio": round(per_s / baseline, 3), "p50_ms": round(statistics.median(latencies) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "baseline_p99_ms": round(percentile(bare_latencies, 0.99) * 1000, 2),
            "over_1s": sum(1 for x in latencies if x > 1.0), "redelivered": redelivered,
            "processed_per_s": round(count / processed_seconds, 1), "failed_handlers": failed,
            "failure_reasons": dict(reasons.most_common(5)),
            "deliveries": len(deliveries), "cpu_ms_per_callback": cpu, "baseline_cpu_ms_per_callback": bare_cpu,
            "lost": checks["lost"], "not_done": checks["not_done"],
            "duplicates_processed": checks["duplicates_processed"] + checks["duplicates_recorded"]}


def _wait_processed(model: Any, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        settled = model.query("Q(status__in=['done', 'failed'])", fieldList=["id"], size=1)["totalCount"]
        if settled >= count:
            return
        if time.monotonic() > deadline:
            statuses = model.query(fieldList=["status", "infoType"], size=None)["rowDatas"]
            summary = dict(Counter(f"{row.infoType}:{row.status}" for row in statuses))
            raise SystemExit(f"only {settled} of {count} callbacks processed within {timeout} s: {summary}")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedded", action="store_true", help="only the one-process SQLite mode")
    parser.add_argument("--count", type=int, default=20_000, help="distinct callbacks (default 20000)")
    parser.add_argument("--dup", type=float, default=0.10, help="share delivered twice (default 0.10)")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight at most (default 32)")
    parser.add_argument("--shuffle", type=float, default=0.05, help="share swapped with a neighbour (default 0.05)")
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error("--count must be at least 1")
    result = embedded(args.count, args.dup, args.shuffle)
    _report(result, ("bench", "per_s", "baseline_per_s", "ratio"))
    failed = [name for name in ("lost", "duplicates_recorded", "duplicates_processed", "not_done") if result[name]]
    if args.embedded:
        return 1 if failed else 0
    from_full = full(args.count, args.dup, args.shuffle, args.concurrency)
    _report(from_full, ("bench", "per_s", "baseline_per_s", "ratio", "p99_ms", "processed_per_s", "lost",
                        "duplicates_processed"))
    # Correctness fails the run; timings (over_1s, p99) are reported, not asserted.
    failed += [name for name in ("lost", "duplicates_processed", "not_done", "failed_handlers") if from_full[name]]
    return 1 if failed else 0


def _report(result: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Print every figure and check on one line, then the result line with exactly the agreed keys."""
    print(json.dumps({"details": result["bench"], **{k: v for k, v in result.items() if k != "bench"}}), flush=True)
    print(json.dumps({key: result[key] for key in keys}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
