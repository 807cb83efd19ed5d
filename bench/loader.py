"""Loader benchmark: start-up of an app with 10,000 instance elements against a bare JSON walk.

Measures, in one run and interleaved so machine noise hits both alike:
  (a) baseline — walk the tree and json.loads every e.json and business config;
  (b) App(path) start-up — discover, merge, resolve types, fill variables, validate every instance;
  (c) warm getElement per call; (d) the first getElement of an instance.
The last line printed is one JSON object with the figures. Usage: python bench/loader.py [--elements N]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

import jitlite

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
ENVIRON = {"JITLITE_SECRET_KEY": Fernet.generate_key().decode()}  # login Types need it to start


def write_app(root: Path, count: int) -> list[str]:
    """Write an app of count instances over nested folders; return their fullNames."""
    (root / "app.json").write_text(json.dumps({
        "appId": "benchApp", "title": "loader benchmark",
        "variables": [{"name": "suiteSecret", "value": "bench-secret"}],
    }))
    names = []
    for i in range(count):
        group, sub = f"g{i // 1000}", f"s{(i // 100) % 10}"
        kind = i % 4
        if kind == 0:
            family, type_name = "auths", "auths.loginTypes.QywxProxyType"
            config = {"authConfig": {"suiteId": f"tj{i:06d}", "suiteSecret": "{{suiteSecret}}",
                                     "encodingAESKey": AES_KEY, "token": f"tok{i}"}, "corpId": f"ww{i:06d}"}
        elif kind == 1:
            family, type_name = "auths", "auths.loginTypes.QywxInnerType"
            config = {"corpId": f"ww{i:06d}", "corpSecret": "{{suiteSecret}}", "agentId": str(1000000 + i),
                      "redirectUri": f"https://example.com/cb/{i}"}
        elif kind == 2:
            family, type_name = "auths", "auths.loginTypes.WeChatType"
            config = {"authConfig": {"appId": f"wx{i:016d}", "appSecret": "wechat-secret"}}
        else:
            family, type_name = "corps", "corps.QywxProxyType"
            config = {"corpId": f"ww{i:06d}", "authFullName": f"auths.{group}.{sub}.E{i - 3}"}
        name = f"E{i}"
        folder = root / family / group / sub / name
        folder.mkdir(parents=True)
        declaration = {"title": f"Element {i}", "type": type_name}
        if kind == 2:
            declaration.update(appSecret="wechat-secret", backendBundleEntry=".", frontBundleEntry=f"./{name}.json")
        (folder / "e.json").write_text(json.dumps(declaration))
        (folder / f"{name}.json").write_text(json.dumps(config))
        names.append(f"{family}.{group}.{sub}.{name}")
    return names


def baseline(root: Path) -> float:
    """Walk the tree and json.loads every JSON file: the floor any loader stands on."""
    start = time.perf_counter()
    loaded = 0
    for folder, _dirs, files in os.walk(root):
        for file_name in files:
            if file_name.endswith(".json"):
                with open(os.path.join(folder, file_name), "rb") as handle:
                    json.loads(handle.read())
                loaded += 1
    elapsed = time.perf_counter() - start
    assert loaded > 0
    return elapsed


def startup(root: Path) -> tuple[float, jitlite.App]:
    start = time.perf_counter()
    app = jitlite.App(root, environ=ENVIRON)
    return time.perf_counter() - start, app


def cold_startup(root: Path) -> float:
    """Time App(path) in a fresh interpreter (imports included), as a deployment would see it."""
    code = ("import time, sys; t = time.perf_counter(); import jitlite; "
            "jitlite.App(sys.argv[1], environ={'JITLITE_SECRET_KEY': sys.argv[2]}); print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code, str(root), ENVIRON["JITLITE_SECRET_KEY"]],
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--elements", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "benchApp"
        root.mkdir()
        names = write_app(root, args.elements)
        startup(root)  # warm the OS file cache and the schema modules once
        baselines, startups = [], []
        app: jitlite.App | None = None
        for _ in range(args.rounds):
            baselines.append(baseline(root))
            elapsed, app = startup(root)
            startups.append(elapsed)
        assert app is not None
        cold = cold_startup(root)

        # (d) first getElement: the very first (imports the Type's code) and then per new instance.
        first_start = time.perf_counter()
        app.getElement(names[0])
        very_first = time.perf_counter() - first_start
        sample = names[1:2001]
        first_start = time.perf_counter()
        for name in sample:
            app.getElement(name)
        first_each = (time.perf_counter() - first_start) / len(sample)

        # (c) warm getElement.
        get = app.getElement
        warm_names = names[:1000]
        loops = 200
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(loops):
                for name in warm_names:
                    get(name)
            best = min(best, (time.perf_counter() - start) / (loops * len(warm_names)))

    startup_s, baseline_s = statistics.median(startups), statistics.median(baselines)
    print(f"elements:                    {args.elements} instances (+ official Types), {args.rounds} rounds")
    print(f"(a) baseline walk+json.loads {baseline_s:.3f} s (median)")
    print(f"(b) App(path) start-up       {startup_s:.3f} s (median), ratio {startup_s / baseline_s:.2f}")
    print(f"    cold start-up, new process, imports included: {cold:.3f} s")
    print(f"(c) warm getElement          {best * 1e6:.3f} µs per call")
    print(f"(d) first getElement         {very_first * 1e3:.2f} ms for the very first (imports the Type), "
          f"then {first_each * 1e6:.1f} µs per new instance")
    print(json.dumps({"bench": "loader", "startup_s": round(startup_s, 4), "baseline_s": round(baseline_s, 4),
                      "ratio": round(startup_s / baseline_s, 3), "warm_getelement_us": round(best * 1e6, 4),
                      "first_getelement_us": round(first_each * 1e6, 2), "cold_startup_s": round(cold, 4)}))


if __name__ == "__main__":
    main()
