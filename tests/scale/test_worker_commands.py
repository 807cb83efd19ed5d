"""`jitlite worker` / `jitlite beat` and the settings that choose the queue."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

import pytest
from click.testing import CliRunner

import jitlite
from jitlite.cli.worker import beat, worker
from jitlite.meta.inbox import ThreadRunner
from jitlite.runtime.settings import KNOWN_SETTINGS
from jitlite.tasks.config import broker_url, queue_of, reconcile_seconds

from ..conftest import DEMO_APP
from ..waiting import wait_for
from .conftest import SERVICE


def test_the_queue_settings_are_registered_and_checked() -> None:
    assert {"taskQueue", "reconcileSeconds"} <= set(KNOWN_SETTINGS)
    assert queue_of({}) == "thread" and queue_of({"taskQueue": "celery"}) == "celery"
    with pytest.raises(ValueError, match=r"setting 'taskQueue' must be one of thread, celery, not 'rq'; fix it in "
                                         r"app.json settings or jitlite.toml \[settings\]"):
        queue_of({"taskQueue": "rq"})
    with pytest.raises(ValueError, match="setting 'reconcileSeconds' must be a number of seconds >= 0"):
        reconcile_seconds({"reconcileSeconds": -1})
    assert broker_url({"CELERY_BROKER_URL": "redis://b/2", "JITLITE_BROKER_URL": "redis://a/1"}) == "redis://a/1"


def test_the_embedded_default_stays_in_process() -> None:
    app = jitlite.App(DEMO_APP, environ={})
    service = app.getElement(SERVICE)
    try:
        assert isinstance(service.inbox._runner, ThreadRunner)
    finally:
        service.close()


def test_worker_and_beat_without_a_broker_say_which_variable_to_set(tmp_path: Any, monkeypatch: Any) -> None:
    for name in ("JITLITE_BROKER_URL", "CELERY_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    for command in (worker, beat):
        result = CliRunner().invoke(command, ["--app", str(DEMO_APP)])
        assert result.exit_code == 2
        assert "no Celery broker is named: set JITLITE_BROKER_URL (or CELERY_BROKER_URL)" in result.output


@pytest.mark.slow
def test_jitlite_worker_serves_the_app_queue(topology: Any) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", "from jitlite.cli.worker import worker; worker()", "--app", str(topology.app_dir),
         "-c", "1", "--", "-Q", topology.queue, "--without-gossip", "--without-mingle"],
        env=topology.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        output = process.stdout
        assert output is not None

        def ready() -> bool:
            lines.append(output.readline())
            return " ready." in lines[-1] or process.poll() is not None

        wait_for(ready, 60, "jitlite worker to be ready")
        assert process.poll() is None, "".join(lines)
        assert any("jitlite.process_callbacks" in line for line in lines)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
