"""Start the scale-out topology on loopback: gunicorn, a Celery worker and beat, on PostgreSQL and Redis.

The same processes docker-compose.yml describes, for tests, benchmarks and a laptop::

    python deploy/local_topology.py --app elements --pg-url postgresql://… --redis-url redis://127.0.0.1:6379/0

copies the app to a temporary folder, points ``databases.Default`` at a fresh PostgreSQL schema and
``caches.Default`` at Redis, sets ``taskQueue = "celery"``, starts everything and waits for Ctrl-C.
Tests import :class:`Topology` and start only the processes they need.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
GUNICORN_CONF = HERE / "gunicorn.conf.py"


def free_port() -> int:
    """Return a free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))  # a TOML basic string is a JSON string for these values


class Topology:
    """One app copy on PostgreSQL + Redis + Celery, and the processes serving it (stopped by ``close``)."""

    def __init__(self, source: Path, root: Path, *, pg_url: str, redis_url: str,
                 settings: dict[str, Any] | None = None, broker_db: int | None = None) -> None:
        self.root = root
        self.app_dir = root / "app"
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, self.app_dir, ignore=shutil.ignore_patterns("appData", "jitlite.toml", "__pycache__"))
        self.schema = "topo_" + secrets.token_hex(6)
        # Its own appId, so its keys in a shared Redis (namespaced by appId) are its own too.
        manifest = json.loads((self.app_dir / "app.json").read_text())
        manifest["appId"] = self.app_id = f"{manifest['appId']}{self.schema[4:]}"
        (self.app_dir / "app.json").write_text(json.dumps(manifest, indent=2))
        self.redis_url = redis_url
        self.pg_url = pg_url
        self.queue = "jitlite-" + secrets.token_hex(4)  # tasks of this topology only, even on a shared broker
        broker = redis_url if broker_db is None else redis_url.rsplit("/", 1)[0] + f"/{broker_db}"
        self.env = {**os.environ, "JITLITE_APP": str(self.app_dir), "PG_URL": pg_url, "REDIS_URL": redis_url,
                    "JITLITE_BROKER_URL": broker, "JITLITE_CELERY_QUEUE": self.queue,
                    "PYTHONUNBUFFERED": "1"}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._create_schema()
        self._write(self.app_dir / "databases/Default/e.json",
                    {"title": "PostgreSQL", "type": "databases.PgSqlType",
                     "variables": [{"name": "PG_URL", "required": True}]})
        self._write(self.app_dir / "databases/Default/Default.json", {"url": "{{PG_URL}}", "schema": self.schema})
        self._write(self.app_dir / "caches/Default/e.json",
                    {"title": "Redis", "type": "caches.RedisType",
                     "variables": [{"name": "REDIS_URL", "required": True}]})
        self._write(self.app_dir / "caches/Default/Default.json", {"url": "{{REDIS_URL}}"})
        self.configure(taskQueue="celery", **(settings or {}))

    @staticmethod
    def _write(path: Path, data: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))

    def configure(self, **settings: Any) -> None:
        """Write the app's jitlite.toml [settings] (processes started later read them)."""
        variables = {name: self.env[name] for name in ("JITLITE_BROKER_URL", "JITLITE_CELERY_QUEUE")}
        lines = ["[settings]", *(f"{name} = {_toml_value(value)}" for name, value in sorted(settings.items())),
                 "", "[variables]", *(f"{name} = {_toml_value(value)}" for name, value in variables.items())]
        (self.app_dir / "jitlite.toml").write_text("\n".join(lines) + "\n")

    def _create_schema(self) -> None:
        self._execute(f"CREATE SCHEMA {self.schema}")

    def _drop_schema(self) -> None:
        self._execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")

    def _execute(self, sql: str) -> None:
        from jitlite.storage.engine import create_pg_engine

        engine = create_pg_engine(self.pg_url)
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(sql)
        finally:
            engine.dispose()

    # -- processes ---------------------------------------------------------------------------------

    def _start(self, name: str, argv: list[str], **env: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("ab")
        process = subprocess.Popen(argv, env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT,
                                   cwd=self.root, start_new_session=True)
        log.close()
        self.processes[name] = process
        return process

    def log(self, name: str) -> str:
        """Return what a process wrote so far."""
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start_gunicorn(self, *, workers: int = 4, threads: int = 16, name: str = "gunicorn",
                       timeout: float = 60.0, warm_path: str = "/callbacks/qywx-proxy",
                       app_uri: str | None = None, chdir: str | None = None) -> str:
        """Start gunicorn with deploy/gunicorn.conf.py (serving app_uri instead, if given); return its URL."""
        port = free_port()
        extra = [*(["--chdir", chdir] if chdir else []), *([app_uri] if app_uri else [])]
        self._start(name, [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), *extra],
                    JITLITE_BIND=f"127.0.0.1:{port}", JITLITE_WORKERS=str(workers), JITLITE_THREADS=str(threads))
        url = f"http://127.0.0.1:{port}"
        self._wait(name, lambda: _answers(url), timeout, "gunicorn to answer")
        # Warm every worker up (each opens its App and builds the callback service on first use), so
        # that the first pushes are not answered late.
        for _ in range(workers * 4):  # a new connection each, so that they spread over the workers
            httpx.post(url + warm_path, timeout=30)
        return url

    def start_worker(self, name: str = "worker", *, concurrency: int = 1,
                     timeout: float = 60.0) -> subprocess.Popen[bytes]:
        """Start a Celery worker (prefork) on this topology's queue; return it once it is ready."""
        process = self._start(name, [sys.executable, "-m", "celery", "-A", "jitlite.tasks", "worker",
                                     "--loglevel=INFO", f"--concurrency={concurrency}", "--pool=prefork",
                                     f"--hostname={name}-{secrets.token_hex(3)}@%h", "-Q", self.queue,
                                     "--without-gossip", "--without-mingle", "--without-heartbeat"])
        self._wait(name, lambda: " ready." in self.log(name), timeout, "the Celery worker to be ready")
        return process

    def start_beat(self, name: str = "beat") -> subprocess.Popen[bytes]:
        """Start Celery beat (its schedule file under the topology's folder)."""
        return self._start(name, [sys.executable, "-m", "celery", "-A", "jitlite.tasks", "beat", "--loglevel=INFO",
                                  f"--schedule={self.root / 'celerybeat-schedule'}"])

    def _wait(self, name: str, ready: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            process = self.processes[name]
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode} before {what}:\n{self.log(name)[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout} s waiting for {what}:\n{self.log(name)[-4000:]}")
            time.sleep(0.1)

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int | None:
        """Send sig to the process group this topology started under name; wait for it; return its status."""
        process = self.processes.pop(name, None)
        if process is None:
            return None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)  # the group we created: the master and its forked children
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        return process.returncode

    def close(self) -> None:
        """Stop every process, drop the schema and the app's Redis keys."""
        for name in list(self.processes):
            self.stop(name)
        self._drop_schema()
        import redis

        with contextlib.suppress(redis.RedisError):
            client = redis.Redis.from_url(self.redis_url)
            for pattern in (f"{self.app_id}:*", f"{self.app_id}@lock:*"):
                keys = list(client.scan_iter(match=pattern, count=1000))
                if keys:
                    client.delete(*keys)
            client.close()


def _answers(url: str) -> bool:
    try:
        httpx.get(url + "/", timeout=1.0)
    except httpx.HTTPError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Start the topology for an app and keep it running until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", type=Path, default=HERE.parent / "elements", help="the app folder to copy")
    parser.add_argument("--pg-url", default=os.environ.get("JITLITE_TEST_PG_URL"), required=False)
    parser.add_argument("--redis-url", default=os.environ.get("JITLITE_TEST_REDIS_URL"), required=False)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--wecom-base-url", default=None, help="e.g. a `jitlite sandbox` URL")
    args = parser.parse_args(argv)
    if not args.pg_url or not args.redis_url:
        parser.error("give --pg-url and --redis-url (or set JITLITE_TEST_PG_URL and JITLITE_TEST_REDIS_URL)")
    settings = {"wecomBaseUrl": args.wecom_base_url} if args.wecom_base_url else {}
    topology = Topology(args.app, Path(tempfile.mkdtemp(prefix="jitlite-topology-")), pg_url=args.pg_url,
                        redis_url=args.redis_url, settings=settings)
    try:
        url = topology.start_gunicorn(workers=args.workers)
        topology.start_worker()
        topology.start_beat()
        print(f"app {topology.app_dir}\nweb {url}\nlogs {topology.logs}\nCtrl-C stops everything", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        topology.close()


if __name__ == "__main__":
    sys.exit(main())
