"""A WSGI app for the token-stampede test: each request asks for the sandbox corp's token.

Configured by variables: PROBE_CACHE ("sqlite:<file>" or "redis:<url>"), PROBE_NAMESPACE and
PROBE_WECOM_URL. Answers JSON {"token", "seconds" (time spent in access_token), "pid"}.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from jitlite.cache import RedisCache, SqliteCache
from jitlite.sandbox import defaults
from jitlite.wecom.client import CorpClient
from jitlite.wecom.tokens import TokenManager

kind, _, location = os.environ["PROBE_CACHE"].partition(":")
namespace = os.environ["PROBE_NAMESPACE"]
cache = SqliteCache(location, namespace) if kind == "sqlite" else RedisCache(location, namespace)
client = CorpClient(defaults.DEFAULT_CORP_ID, defaults.DEFAULT_AGENT_SECRET, base_url=os.environ["PROBE_WECOM_URL"],
                    tokens=TokenManager(cache=cache), timeout=30.0)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Fetch the token (single-flight) and say how long it took."""
    started = time.monotonic()
    token = client.access_token()
    body = json.dumps({"token": token, "seconds": time.monotonic() - started, "pid": os.getpid()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
