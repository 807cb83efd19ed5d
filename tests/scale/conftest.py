"""The scale-out topology on loopback (deploy/local_topology.py): PostgreSQL, Redis, gunicorn, Celery.

Tests here need the services: they are skipped when PostgreSQL, Redis or Celery are missing, and fail
instead under ``CI=true``, where ``.ci/services`` starts them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import DEMO_APP
from ..topology import local_topology, need_modules

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService"
CALLBACKS = "auths.loginTypes.QywxProxyType.QywxProxyCallbackModel"




def need(variable: str) -> str:
    """Return a service URL from the environment; skip without it (fail under CI=true)."""
    value = os.environ.get(variable, "")
    if not value:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f'CI=true but {variable} is not set (eval "$(.ci/services)")', pytrace=False)
        pytest.skip(f"{variable} is not set")
    return value


def need_celery() -> None:
    """Skip without Celery and gunicorn installed (fail under CI=true)."""
    need_modules("celery", "gunicorn")


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[Any]:
    """A copy of the demo app on PostgreSQL (its own schema), Redis and Celery; processes stopped afterwards."""
    need_celery()
    pg_url, redis_url = need("JITLITE_TEST_PG_URL"), need("JITLITE_TEST_REDIS_URL")
    topo = local_topology.Topology(DEMO_APP, tmp_path / "topology", pg_url=pg_url, redis_url=redis_url,
                                   settings={"callbackLeaseSeconds": 2.0, "callbackSweepSeconds": 0.5})
    try:
        yield topo
    finally:
        topo.close()
