"""Group insert benchmark: concurrent callers storing rows one statement each, or grouped into shared statements.

Threads insert distinct rows (as concurrent callback requests store their records) into a table with
a unique key, on PostgreSQL when JITLITE_TEST_PG_URL is set (else SQLite): the baseline calls
``createIfAbsent`` per row; jitlite's inbox path goes through ``GroupInsert``, which stores the rows
of callers waiting at the same moment with one ``createManyIfAbsent``. The two alternate, in rounds.
Last line: ``{"bench": "group_insert", "per_s", "baseline_per_s", "ratio"}``.
Usage: python bench/group_insert.py [--threads 16] [--rows 200] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jitlite.meta.group_insert import GroupInsert
from jitlite.storage import (
    Integer,
    Ltext,
    Model,
    ModelManager,
    Secret,
    SecretBox,
    Stext,
    create_pg_engine,
    create_sqlite_engine,
)


class Delivery(Model):
    """A callback record's shape: a unique payload hash, an encrypted payload, a status."""

    __tablename__ = "bench_group_insert"
    __unique__ = (("channel", "payloadHash"),)
    __indexes__ = ("status",)
    channel = Stext(max_length=64)
    payloadHash = Stext(max_length=64)
    payload = Secret()
    status = Stext(max_length=16, default="pending")
    attempts = Integer(default=0)
    note = Ltext(nullable=True)


def open_manager() -> tuple[ModelManager, Callable[[], None], str]:
    """Return the model on PostgreSQL (a schema of its own) or SQLite, a cleanup, and the engine's name."""
    box = SecretBox(SecretBox.generate_key())
    url = os.environ.get("JITLITE_TEST_PG_URL")
    if url:
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        admin = create_pg_engine(url)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
        engine = create_pg_engine(url, schema=schema, pool_size=32, max_overflow=0)

        def drop() -> None:
            engine.dispose()
            with admin.begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
            admin.dispose()

        return Delivery.bind(engine, box), drop, "postgresql"
    folder = tempfile.mkdtemp(prefix="jitlite-bench-group-")
    engine = create_sqlite_engine(Path(folder) / "bench.sqlite3", pool_size=32)
    return Delivery.bind(engine, box), engine.dispose, "sqlite"


def drive(insert: Callable[[dict[str, Any]], Any], threads: int, rows: int) -> float:
    """Insert threads x rows distinct rows from that many threads; return rows per second."""
    payload = "<xml>" + "x" * 250 + "</xml>"

    def work() -> None:
        for _ in range(rows):
            insert({"channel": "bench", "payloadHash": secrets.token_hex(32), "payload": payload})

    workers = [threading.Thread(target=work) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return threads * rows / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=16, help="concurrent callers (default 16)")
    parser.add_argument("--rows", type=int, default=200, help="rows each caller inserts per round (default 200)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each side, alternating (default 2)")
    args = parser.parse_args(argv)
    manager, cleanup, engine_name = open_manager()
    sizes: Counter[int] = Counter()

    class CountingRecords:
        """The manager, counting the rows of each grouped statement."""

        def createIfAbsent(self, values: Any, *, durable: bool = False) -> Any:
            sizes[1] += 1
            return manager.createIfAbsent(values, durable=durable)

        def createManyIfAbsent(self, rows: Any, *, durable: bool = False) -> Any:
            sizes[len(rows)] += 1
            return manager.createManyIfAbsent(rows, durable=durable)

    group = GroupInsert(CountingRecords())
    grouped: list[float] = []
    single: list[float] = []
    try:
        drive(manager.createIfAbsent, args.threads, 10)  # warm the pool and the statement caches
        for _ in range(args.rounds):
            single.append(drive(manager.createIfAbsent, args.threads, args.rows))
            grouped.append(drive(group.insert, args.threads, args.rows))
    finally:
        cleanup()
    per_s, baseline = max(grouped), max(single)
    statements = sum(sizes.values())
    print(json.dumps({"details": "group_insert", "engine": engine_name, "threads": args.threads,
                      "grouped_per_s": [round(x) for x in grouped], "single_per_s": [round(x) for x in single],
                      "rows_per_statement": round(sum(n * c for n, c in sizes.items()) / max(1, statements), 2)}))
    print(json.dumps({"bench": "group_insert", "per_s": round(per_s, 1), "baseline_per_s": round(baseline, 1),
                      "ratio": round(per_s / baseline, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
