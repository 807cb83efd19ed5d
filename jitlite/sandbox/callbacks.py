"""Callback pushes as WeCom sends them: message XML, encryption, delivery with retries, ticket timer.

A push is POSTed to the callback URL with query `msg_signature, timestamp, nonce` and body
``<xml><ToUserName/><Encrypt/><AgentID/></xml>``. Instruction callbacks (suite_ticket, create_auth,
change_auth, cancel_auth, reset_permanent_code, InfoType change_contact) are encrypted to the suite
id; a 代开发 app's corp events (MsgType=event change_contact) are encrypted to the corp id, as
WeCom addresses corp callbacks. The envelope `timestamp` is the wall clock by default, because the
receiver checks it against its own clock; the `TimeStamp`/`CreateTime` inside the message is the
sandbox clock, the time of the event in the emulated world.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from jitlite.runtime import clock
from jitlite.sandbox.models import PushRecord

if TYPE_CHECKING:
    from jitlite.sandbox.orgdata import Department, Member

__all__ = [
    "Push",
    "Pusher",
    "TicketThread",
    "UrlCheck",
    "contact_event_xml",
    "contact_info_xml",
    "department_fields",
    "info_xml",
    "member_fields",
]

Field = tuple[str, "str | int"]

_log = logging.getLogger(__name__)


class _Encryptor(Protocol):
    def encrypt(self, plaintext: str, receive_id: str) -> str: ...

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str: ...


def _cdata(text: str) -> str:
    # "]]>" cannot sit inside one CDATA section; split it across two, as XML writers do.
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _xml(fields: Iterable[Field]) -> str:
    parts = ["<xml>"]
    for tag, value in fields:
        body = str(value) if isinstance(value, int) else _cdata(value)
        parts.append(f"<{tag}>{body}</{tag}>")
    parts.append("</xml>")
    return "".join(parts)


def info_xml(suite_id: str, info_type: str, timestamp: int, fields: Sequence[Field] = ()) -> str:
    """Return an instruction-callback message (SuiteId, InfoType, TimeStamp, then `fields`)."""
    return _xml([("SuiteId", suite_id), ("InfoType", info_type), ("TimeStamp", timestamp), *fields])


def contact_info_xml(suite_id: str, corp_id: str, timestamp: int, change_type: str,
                     fields: Sequence[Field]) -> str:
    """Return an InfoType-style change_contact message, as third-party apps receive it."""
    return _xml([("SuiteId", suite_id), ("AuthCorpId", corp_id), ("InfoType", "change_contact"),
                 ("TimeStamp", timestamp), ("ChangeType", change_type), *fields])


def contact_event_xml(corp_id: str, timestamp: int, change_type: str, fields: Sequence[Field]) -> str:
    """Return a MsgType=event change_contact message, as a 代开发 app's corp callback receives it."""
    return _xml([("ToUserName", corp_id), ("FromUserName", "sys"), ("CreateTime", timestamp),
                 ("MsgType", "event"), ("Event", "change_contact"), ("ChangeType", change_type),
                 *fields])


_MEMBER_TAGS: tuple[tuple[str, str], ...] = (
    ("name", "Name"), ("mobile", "Mobile"), ("position", "Position"), ("gender", "Gender"),
    ("email", "Email"), ("biz_mail", "BizMail"), ("status", "Status"), ("avatar", "Avatar"),
    ("alias", "Alias"), ("telephone", "Telephone"), ("address", "Address"),
)


def member_fields(member: Member, *, open_userid: str | None, ids_only: bool,
                  changed: set[str] | None = None, deleted: bool = False) -> list[Field]:
    """Return the member tags of a create/update/delete_user event.

    `changed` limits an update to the fields that changed, as WeCom sends them; `ids_only` keeps
    only UserID and Department, as WeCom does for callbacks configured after August 2022.
    """
    fields: list[Field] = [("UserID", member.userid)]
    if open_userid is not None:
        fields.append(("OpenUserID", open_userid))
    if deleted:
        return fields
    show_departments = changed is None or bool(changed & {"department", "is_leader_in_dept",
                                                           "main_department"})
    if show_departments:
        fields.append(("Department", ",".join(str(d) for d in member.department)))
    if ids_only:
        return fields
    if show_departments:
        fields.append(("MainDepartment", member.main_department))
        fields.append(("IsLeaderInDept", ",".join(str(f) for f in member.is_leader_in_dept)))
    if changed is None or "direct_leader" in changed:
        fields.append(("DirectLeader", ",".join(member.direct_leader)))
    for attr, tag in _MEMBER_TAGS:
        if changed is not None and attr not in changed:
            continue
        value = getattr(member, attr)
        fields.append((tag, value if isinstance(value, int) else str(value)))
    return fields


def department_fields(dept: Department, *, changed: set[str] | None = None,
                      deleted: bool = False, ids_only: bool = False) -> list[Field]:
    """Return the tags of a create/update/delete_party event.

    `ids_only` leaves the name out, as WeCom does for callbacks configured after August 2022.
    """
    fields: list[Field] = [("Id", dept.id)]
    if deleted:
        return fields
    if not ids_only and (changed is None or "name" in changed):
        fields.append(("Name", dept.name))
    if changed is None or "parentid" in changed:
        fields.append(("ParentId", dept.parentid))
    if changed is None:
        fields.append(("Order", dept.order))
    return fields


@dataclass(frozen=True)
class Push:
    """One callback to deliver: where, what, and the keys to encrypt it with."""

    url: str | None
    event: str
    suite_id: str
    corp_id: str
    plaintext: str
    receive_id: str
    to_user: str
    agent_id: str
    token: str
    encoding_aes_key: str


@lru_cache(maxsize=64)
def _encryptor(token: str, encoding_aes_key: str) -> _Encryptor:
    # Imported here so the sandbox imports even while jitlite.wecom is being worked on.
    from jitlite.wecom.crypto import WeComCrypto

    return WeComCrypto(token, encoding_aes_key)


_ECHO_ANSWER_LIMIT = 1024  # an echostr answer is a short number; read no more than this of it


@dataclass(frozen=True)
class UrlCheck:
    """The outcome of WeCom's URL verification (a GET with an encrypted echostr) against one callback URL."""

    url: str
    ok: bool
    status: int | None
    error: str | None
    elapsed: float
    time: float

    def to_dict(self) -> dict[str, Any]:
        """Return the check as JSON-ready values."""
        return asdict(self)


class Pusher:
    """Encrypt and POST pushes, retrying like WeCom, and record every attempt."""

    def __init__(
        self,
        record: Callable[[PushRecord], None],
        sandbox_time: Callable[[], float],
        *,
        timeout: float = 1.0,
        retries: int = 3,
        backoff: float = 1.0,
        transport: httpx.BaseTransport | None = None,
        envelope_time: Callable[[], float] = clock.now,
    ) -> None:
        self.record = record
        self.sandbox_time = sandbox_time
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.transport = transport
        self.envelope_time = envelope_time
        # Set on close so a delivery waiting between retries gives up at once.
        self._closing = threading.Event()

    def close(self) -> None:
        """Stop waiting between retries; later deliveries make one attempt."""
        self._closing.set()

    def deliver(self, push: Push, cancel: threading.Event | None = None) -> bool:
        """Send `push` until it is answered `success` or the retries run out; return success.

        Setting `cancel` (or closing the pusher) ends the wait between retries early.
        """
        waiter = cancel if cancel is not None else self._closing
        if not push.url:
            self.record(PushRecord(time=self.sandbox_time(), url=None, event=push.event, attempt=0,
                                   status=None, answer=None, ok=False, suite_id=push.suite_id,
                                   corp_id=push.corp_id, error="no callback URL registered",
                                   plaintext=push.plaintext))
            return False
        for attempt in range(1, self.retries + 2):
            if self._attempt(push, attempt):
                return True
            if attempt > self.retries or self._closing.is_set() or waiter.is_set():
                break
            waiter.wait(self.backoff * 2 ** (attempt - 1))
        return False

    def _signed(self, token: str, encoding_aes_key: str, plaintext: str,
                receive_id: str) -> tuple[str, dict[str, str]]:
        """Encrypt `plaintext` to `receive_id`; return it with the signed query WeCom sends alongside."""
        crypto = _encryptor(token, encoding_aes_key)
        timestamp = str(int(self.envelope_time()))
        nonce = str(secrets.randbelow(10**10))
        encrypted = crypto.encrypt(plaintext, receive_id)
        query = {"msg_signature": crypto.signature(timestamp, nonce, encrypted),
                 "timestamp": timestamp, "nonce": nonce}
        return encrypted, query

    def _attempt(self, push: Push, attempt: int) -> bool:
        assert push.url is not None
        encrypted, query = self._signed(push.token, push.encoding_aes_key, push.plaintext, push.receive_id)
        body = _xml([("ToUserName", push.to_user), ("Encrypt", encrypted), ("AgentID", push.agent_id)])
        status: int | None = None
        answer: str | None = None
        error: str | None = None
        started = time.monotonic()
        try:
            with httpx.Client(transport=self.transport, timeout=self.timeout) as client:
                # Merged, not replaced: callback URLs often carry a query of their own.
                url = httpx.URL(push.url).copy_merge_params(query)
                response = client.post(url, content=body.encode("utf-8"),
                                       headers={"Content-Type": "text/xml; charset=utf-8"})
            status = response.status_code
            answer = response.text
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            # An in-process receiver that crashes would have answered 500 over a real network;
            # record it as a failed attempt instead of letting it break the sender.
            _log.warning("the receiver of a %s push to %s raised", push.event, push.url, exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
        elapsed = time.monotonic() - started
        # An in-process transport cannot time out, so a slow answer is judged after the fact.
        if error is None and elapsed > self.timeout:
            error = f"no answer within {self.timeout:g} s (took {elapsed:.2f} s)"
        ok = error is None and status == 200 and answer == "success"
        self.record(PushRecord(time=self.sandbox_time(), url=push.url, event=push.event,
                               attempt=attempt, status=status, answer=answer, ok=ok,
                               suite_id=push.suite_id, corp_id=push.corp_id, error=error,
                               elapsed=elapsed, plaintext=push.plaintext, body=body, query=query))
        return ok

    def verify_url(self, url: str, token: str, encoding_aes_key: str, receive_id: str, *,
                   timeout: float = 5.0) -> UrlCheck:
        """Verify a callback URL as WeCom does before saving it: GET it with an encrypted echostr; pass if
        it answers the decrypted echostr, byte for byte, with HTTP 200.
        """
        echo = str(secrets.randbelow(10**18))
        encrypted, query = self._signed(token, encoding_aes_key, echo, receive_id)
        status: int | None = None
        error: str | None = None
        started = time.monotonic()
        try:
            target = httpx.URL(url).copy_merge_params({**query, "echostr": encrypted})
            with httpx.Client(transport=self.transport, timeout=timeout) as client, \
                    client.stream("GET", target) as response:
                status = response.status_code
                answer = b""
                for chunk in response.iter_bytes():
                    answer += chunk
                    if len(answer) > _ECHO_ANSWER_LIMIT:
                        break
            if status != 200:
                error = f"answered HTTP {status}, not 200"
            elif answer != echo.encode("ascii"):
                error = "did not answer the decrypted echostr (check the Token and EncodingAESKey the app uses)"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # an in-process receiver that crashes would have answered 500 over a network
            _log.warning("the receiver of the URL verification of %s raised", url, exc_info=True)
            error = f"{type(exc).__name__}: {exc}"
        return UrlCheck(url=url, ok=error is None, status=status, error=error, elapsed=time.monotonic() - started,
                        time=self.envelope_time())


class TicketThread:
    """Call `push_tickets(stop_event)` at start and then every `interval` seconds until stopped."""

    def __init__(self, push_tickets: Callable[[threading.Event], object], interval: float) -> None:
        if interval <= 0:
            raise ValueError("the ticket interval must be positive")
        self.interval = interval
        self._push_tickets = push_tickets
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jitlite-sandbox-tickets", daemon=True)

    @property
    def alive(self) -> bool:
        """Return whether the thread is running."""
        return self._thread.is_alive()

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop and wait for it."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._push_tickets(self._stop)
            except Exception:
                # A broken push (bad key, unreachable crypto) must not end the timer silently.
                _log.exception("the sandbox could not push suite tickets")
            if self._stop.wait(self.interval):
                break
