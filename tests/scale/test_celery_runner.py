"""The Celery runner's sending, without a broker: ids go out in batch tasks from a sender thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from jitlite.tasks import runner as runner_module
from jitlite.tasks.runner import PROCESS_CALLBACKS, CeleryRunner


class RecordingProducer:
    """Stands in for Celery's producer: remembers each task sent, or fails while told to."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[Any], str]] = []
        self.failing = False
        self.lock = threading.Lock()

    def send_task(self, name: str, *, args: list[Any], queue: str) -> None:
        if self.failing:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        with self.lock:
            self.sent.append((name, args, queue))


@pytest.fixture
def producer(monkeypatch: pytest.MonkeyPatch) -> RecordingProducer:
    fake = RecordingProducer()
    monkeypatch.setattr(runner_module, "producer", lambda broker: fake)
    return fake


def wait_sent(producer: RecordingProducer, ids: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(len(args[1]) for _, args, _ in producer.sent) < ids:
        assert time.monotonic() < deadline, f"only {producer.sent} sent"
        time.sleep(0.01)


def test_ids_submitted_together_go_out_as_one_task_and_full_batches_at_once(producer: RecordingProducer) -> None:
    runner = CeleryRunner("svc", "redis://127.0.0.1:1/0", "q", linger=0.2, batch_size=3)
    try:
        for record_id in (1, 2, 3, 4, 5):
            runner.submit(record_id)
        wait_sent(producer, 5)
        assert producer.sent == [(PROCESS_CALLBACKS, ["svc", [1, 2, 3]], "q"),
                                 (PROCESS_CALLBACKS, ["svc", [4, 5]], "q")]
        runner.submit(6)  # a lone id waits no longer than the linger
        wait_sent(producer, 6, timeout=2)
        assert producer.sent[-1] == (PROCESS_CALLBACKS, ["svc", [6]], "q")
    finally:
        runner.close()


def test_a_failed_send_is_logged_and_left_to_the_sweep(producer: RecordingProducer,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    runner = CeleryRunner("svc", "redis://127.0.0.1:1/0", "q", linger=0.01)
    producer.failing = True
    try:
        runner.submit(7)
        deadline = time.monotonic() + 5
        while "could not send 1 callback record" not in caplog.text:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        producer.failing = False
        runner.submit(8)  # the sender goes on after a failure
        wait_sent(producer, 1)
        assert producer.sent == [(PROCESS_CALLBACKS, ["svc", [8]], "q")]
    finally:
        runner.close()


def test_close_sends_what_is_still_unsent_and_refuses_more(producer: RecordingProducer) -> None:
    runner = CeleryRunner("svc", "redis://127.0.0.1:1/0", "q", linger=5.0)
    runner.submit(9)
    runner.close()  # does not wait the 5 s linger
    assert producer.sent == [(PROCESS_CALLBACKS, ["svc", [9]], "q")]
    with pytest.raises(RuntimeError, match="closed"):
        runner.submit(10)


def test_binding_prepares_the_producer_before_the_first_callback(producer: RecordingProducer) -> None:
    """Celery's sending machinery takes about a second of imports: a worker pays it as its service is built,
    not behind its first callbacks."""
    prepared = threading.Event()
    released: list[bool] = []

    class Connection:
        @property
        def transport(self) -> object:
            prepared.set()
            return object()

        def release(self) -> None:
            released.append(True)

    producer.amqp = object()  # type: ignore[attr-defined]
    producer.connection_for_write = Connection  # type: ignore[attr-defined]
    runner = CeleryRunner("svc", "redis://127.0.0.1:1/0", "q")
    try:
        runner.bind(object())  # type: ignore[arg-type]
        assert prepared.wait(5), "the producer was not prepared when the runner was bound"
        assert producer.sent == []  # nothing is sent (and no connection made) until a record is submitted
    finally:
        runner.close()
    assert released == [True]


def test_a_producer_that_cannot_be_prepared_still_sends(producer: RecordingProducer) -> None:
    runner = CeleryRunner("svc", "redis://127.0.0.1:1/0", "q", linger=0.01)
    try:
        runner.bind(object())  # type: ignore[arg-type]  # the fake has no amqp: preparing fails quietly
        runner.submit(11)
        wait_sent(producer, 1)
        assert producer.sent == [(PROCESS_CALLBACKS, ["svc", [11]], "q")]
    finally:
        runner.close()
