"""Benchmark createOrUpdateMany against plain sqlite3 executemany inserts of the same rows.

    .venv/bin/python bench/storage.py [--rows 100000] [--repeat 3]

Each repeat builds fresh SQLite files (WAL, synchronous=NORMAL on both sides) in a temporary
folder. The baseline inserts the same rows, JSON included, into a table of the same shape (same
DDL and indexes) with the standard library's sqlite3. The resync pass sends every row again with
1% of them changed. The best time of the repeats is reported; the last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.schema import CreateIndex, CreateTable

from jitlite.storage import Boolean, Integer, JitList, Model, Stext, create_sqlite_engine

POSITIONS = ["engineer", "product manager", "designer", "sales", "support", "finance", "产品经理", "工程师"]


class Member(Model):
    """A WeCom member as the org sync stores it."""

    __tablename__ = "members"
    __unique__ = (("corpId", "userId"),)
    corpId = Stext(max_length=64, nullable=False)
    userId = Stext(max_length=64, nullable=False)
    name = Stext(max_length=128)
    mobile = Stext(max_length=32)
    email = Stext(max_length=128)
    position = Stext(max_length=128)
    departments = JitList()
    mainDepartment = Integer()
    status = Integer()
    isLeader = Boolean()


def make_rows(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Return ``count`` member rows, the same for every run."""
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        departments = sorted(rng.sample(range(1, 400), rng.randint(1, 3)))
        rows.append(
            {
                "corpId": "wwcorp0001",
                "userId": f"user{i:07d}",
                "name": f"成员 {i}",
                "mobile": f"1{rng.randint(3000000000, 9999999999)}",
                "email": f"user{i}@example.com",
                "position": rng.choice(POSITIONS),
                "departments": departments,
                "mainDepartment": departments[0],
                "status": 1,
                "isLeader": rng.random() < 0.05,
            }
        )
    return rows


def changed_copy(rows: list[dict[str, Any]], fraction: float, seed: int = 11) -> tuple[list[dict[str, Any]], int]:
    """Return the rows again with ``fraction`` of them changed, and how many changed."""
    rng = random.Random(seed)
    picked = set(rng.sample(range(len(rows)), int(len(rows) * fraction)))
    out = []
    for i, row in enumerate(rows):
        if i in picked:
            row = {**row, "position": row["position"] + " (new)", "status": 2}
        out.append(row)
    return out, len(picked)


def time_upsert(
    folder: Path, rows: list[dict[str, Any]], resync_rows: list[dict[str, Any]]
) -> tuple[float, float, int, int]:
    """Return (upsert seconds, resync seconds, rows changed by each) on a fresh database."""
    engine = create_sqlite_engine(folder / "jitlite.db")
    try:
        members = Member.bind(engine)  # creates the table outside the timed part
        start = time.perf_counter()
        first = members.createOrUpdateMany(rows)
        upsert_s = time.perf_counter() - start
        start = time.perf_counter()
        second = members.createOrUpdateMany(resync_rows)
        resync_s = time.perf_counter() - start
        total = members.query(size=1)["totalCount"]
        if total != len(rows):
            raise SystemExit(f"expected {len(rows)} rows after the upserts, found {total}")
        return upsert_s, resync_s, first, second
    finally:
        engine.dispose()


def time_baseline(folder: Path, rows: list[dict[str, Any]]) -> float:
    """Return the seconds sqlite3.executemany takes to insert the rows into a same-shape table."""
    table = Member.sa_table()
    dialect = sqlite_dialect.dialect()
    conn = sqlite3.connect(folder / "baseline.db")
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(str(CreateTable(table).compile(dialect=dialect)))
        for index in table.indexes:
            conn.execute(str(CreateIndex(index).compile(dialect=dialect)))
        conn.commit()
        names = [c.name for c in table.columns if c.name != "id"]
        if names != list(rows[0]):
            raise SystemExit(f"the baseline's columns {names} do not match the rows' keys {list(rows[0])}")
        sql = f"INSERT INTO members ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})"
        encode = json.JSONEncoder(ensure_ascii=False).encode
        start = time.perf_counter()
        # The quickest plain-Python way to turn the dicts into parameter tuples; serialising the
        # JSON column is part of the job, so the baseline does it too.
        params = [
            (
                row["corpId"],
                row["userId"],
                row["name"],
                row["mobile"],
                row["email"],
                row["position"],
                encode(row["departments"]),
                row["mainDepartment"],
                row["status"],
                row["isLeader"],
            )
            for row in rows
        ]
        conn.executemany(sql, params)
        conn.commit()
        elapsed = time.perf_counter() - start
        (count,) = conn.execute("SELECT count(*) FROM members").fetchone()
        if count != len(rows):
            raise SystemExit(f"baseline inserted {count} rows, expected {len(rows)}")
        return elapsed
    finally:
        conn.close()


def best(samples: list[float]) -> float:
    """Return the fastest sample: the least disturbed by the machine's other work."""
    return min(samples)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures, then one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rows = make_rows(args.rows)
    resync_rows, changed = changed_copy(rows, 0.01)
    upserts: list[float] = []
    resyncs: list[float] = []
    baselines: list[float] = []
    for attempt in range(1, args.repeat + 1):
        with tempfile.TemporaryDirectory(prefix="jitlite-bench-") as tmp:
            folder = Path(tmp)
            baselines.append(time_baseline(folder, rows))
            upsert_s, resync_s, first, second = time_upsert(folder, rows, resync_rows)
        if first != len(rows) or second != changed:
            raise SystemExit(f"upsert reported {first} then {second} changed rows; expected {len(rows)}, {changed}")
        upserts.append(upsert_s)
        resyncs.append(resync_s)
        print(
            f"run {attempt}: baseline {baselines[-1]:.3f}s  upsert {upsert_s:.3f}s  resync {resync_s:.3f}s", flush=True
        )
    upsert_s, baseline_s, resync_s = best(upserts), best(baselines), best(resyncs)
    ratio = upsert_s / baseline_s
    print(f"rows                       {args.rows}")
    print(f"sqlite3 executemany insert {baseline_s:.3f} s  (median {statistics.median(baselines):.3f} s)")
    print(f"createOrUpdateMany         {upsert_s:.3f} s  (median {statistics.median(upserts):.3f} s)")
    print(f"resync, 1% changed         {resync_s:.3f} s  ({changed} rows rewritten)")
    print(f"ratio upsert / baseline    {ratio:.2f}  (target <= 2.0)")
    result = {
        "bench": "storage",
        "rows": args.rows,
        "upsert_s": round(upsert_s, 4),
        "baseline_s": round(baseline_s, 4),
        "ratio": round(ratio, 3),
        "resync_s": round(resync_s, 4),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
