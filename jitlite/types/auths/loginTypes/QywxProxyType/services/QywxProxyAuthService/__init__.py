"""The service of ``auths.loginTypes.QywxProxyType``: callbacks, workbench login, organisation codes.

Callbacks are answered within WeCom's one second whatever processing costs, and none is lost:
``notify`` verifies and decrypts, **stores a record first** (the callback inbox, ``jitlite.meta.inbox``),
answers ``success`` only once the record is committed (503 if the database cannot take it, so WeCom
retries), and processes the record afterwards under a lease. A redelivery (same decrypted payload) is
acknowledged and not processed twice; a record whose worker died is taken over when its lease expires
(at start-up and by a periodic sweep); a record that failed stays ``failed`` with its error until
``retryCallBack`` runs it again.

``answerCallback(query, body)`` does the work on plain values and returns a
:class:`~jitlite.meta.replies.Reply`; the web layer mounts it (this Type's ``webRoutes`` and JitAi's
``/api/…/QywxProxyAuthService/notify``). ``notify(...)`` keeps the seed's contract — called as the
seed writes it, in a Flask request or outside one, it returns a Flask ``Response`` — by handing the
reply to the web layer's one edge adapter, imported only when ``notify`` is called.

Settings: ``callbackLeaseSeconds`` (default 300) is how long a claim lasts unless its worker renews it;
``callbackSweepSeconds`` (default 60; 0 turns it off) is how often a process looks for expired claims
and records left pending. A handler that fails on a passing WeCom fault (see ``retry_delay``) leaves
its record pending, due again after ``callbackRetrySeconds`` (default 30) doubled per attempt, up to
``callbackRetryAttempts`` claims (default 5); then it is failed, for ``retryCallBack``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, ClassVar

from jitlite.meta.corps import Corp, organisations_for, sync_in_background
from jitlite.meta.inbox import (
    DEFAULT_LEASE_SECONDS,
    DEFAULT_SWEEP_SECONDS,
    CallbackInbox,
    InboxUnavailable,
)
from jitlite.meta.replies import Reply
from jitlite.meta.routes import ADMIN, PUBLIC, ApiFunction, ApiFunctions
from jitlite.meta.services import Service
from jitlite.runtime import clock
from jitlite.runtime.errors import AuthError, CorpNotAuthorized
from jitlite.runtime.settings import read_setting
from jitlite.storage import ConstraintError, Q, Row
from jitlite.tasks.runner import inbox_runner
from jitlite.types.auths.loginTypes.QywxProxyType import CALLBACK_BODY_LIMIT, CALLBACK_MODEL, ORG_CODE, TYPE_NAME
from jitlite.types.auths.services.AuthService import PLATFORMS
from jitlite.wecom import (
    BodyTooLarge,
    CallbackError,
    DecryptedMessage,
    RateLimitedError,
    SignatureMismatch,
    SuiteTicketMissing,
    TokenExpiredError,
    TransportError,
    UpstreamBusyError,
    parse_flat_xml,
)

__all__ = ["CALLBACK_BODY_LIMIT", "QywxProxyAuthService"]

log = logging.getLogger("jitlite.qywx_proxy.callbacks")

_COALESCED = frozenset({"suite_ticket", "change_auth"})  # events of which the newest in a batch does all
# Callbacks stored without a disk sync: after a power loss WeCom's next push (a ticket every ten
# minutes) brings back what they carried. Every other event is synced before "success": an auth
# code comes once, and a contact change would come back only through a reconciliation, which the
# embedded setup does not schedule.
_RECOVERABLE = frozenset({"suite_ticket"})
_BATCH_FIELDS = ["authFullName", "infoType", "corpId", "eventTime"]  # what a claimed batch is sorted out by

Handler = Callable[[Any, dict[str, str]], str]

# Failures that pass by themselves: WeCom busy (-1, 5xx after the call's own retries), unreachable,
# rate-limited (45009: a circuit paused the corp), a token it keeps refusing, or no suite ticket yet
# (WeCom pushes one every ten minutes). A record that meets one runs again later instead of failing.
_TRANSIENT = (UpstreamBusyError, TransportError, RateLimitedError, TokenExpiredError, SuiteTicketMissing,
              TimeoutError)
_RETRY_CAP_SECONDS = 1800.0
_CIRCUIT_SECONDS = 60.0  # a 45009 circuit's length (DESIGN: at least 60 s)
_TICKET_WAIT_SECONDS = 60.0  # a missing suite ticket: WeCom pushes one every ten minutes
DEFAULT_RETRY_SECONDS = 30.0
DEFAULT_RETRY_ATTEMPTS = 5


def retry_delay(error: Exception, attempts: int, base: float = DEFAULT_RETRY_SECONDS) -> float | None:
    """Return seconds to wait before a callback that failed on claim ``attempts`` runs again; None: it failed for good.

    Exponential from ``base`` (capped at 30 minutes) with up to 25% jitter, so that records failed
    together do not come back together; never sooner than a rate limit's circuit closes, nor than a
    minute for a suite ticket that has not come yet.
    """
    if not isinstance(error, _TRANSIENT):
        return None
    delay = min(base * 2 ** max(0, attempts - 1), _RETRY_CAP_SECONDS)
    if isinstance(error, RateLimitedError):
        delay = max(delay, error.retry_after or _CIRCUIT_SECONDS)
    elif isinstance(error, SuiteTicketMissing):
        delay = max(delay, _TICKET_WAIT_SECONDS)
    return delay * random.uniform(1.0, 1.25)


def _plain(text: str, status: int) -> Reply:
    return Reply.plain(text, status)


class QywxProxyAuthService(Service):
    """Receives WeCom's suite callbacks and logs members in from the workbench."""

    #: What JitAi's HTTP API may call: the callback (answered raw), the login entries, and for the
    #: app's admins the organisation codes and callback retries.
    apiFunctions: ClassVar[ApiFunctions] = {
        "notify": ApiFunction("public", raw="answerCallback", body_limit=CALLBACK_BODY_LIMIT),
        "loginByWorkbench": PUBLIC,
        "getLoginConfigByCode": PUBLIC,
        "getLoginConfig": PUBLIC,
        "setCode": ADMIN,
        "retryCallBack": ADMIN,
    }

    def onLoad(self) -> None:
        """Open the callback inbox and resume the records a stopped or killed process left behind."""
        self.records = self.getElement(CALLBACK_MODEL)
        self.handlers: dict[str, Handler] = {
            "suite_ticket": self._on_suite_ticket,
            "create_auth": self._on_auth_code,
            "reset_permanent_code": self._on_auth_code,
            "change_auth": self._on_change_auth,
            "cancel_auth": self._on_cancel_auth,
            "change_contact": self._on_change_contact,
        }
        retry_base = self._seconds_setting("callbackRetrySeconds", DEFAULT_RETRY_SECONDS)
        self.inbox = CallbackInbox(
            self.records, self._handle, name="qywx-proxy-callbacks",
            lease_seconds=self._seconds_setting("callbackLeaseSeconds", DEFAULT_LEASE_SECONDS),
            sweep_seconds=self._seconds_setting("callbackSweepSeconds", DEFAULT_SWEEP_SECONDS),
            runner=inbox_runner(self.app, self.fullName),  # settings taskQueue: in process, or Celery
            coalesce=self._superseded, purge=self._purge_old_tickets, summary_fields=_BATCH_FIELDS,
            retry_delay=lambda error, attempts: retry_delay(error, attempts, retry_base),
            max_attempts=int(self._setting("callbackRetryAttempts", DEFAULT_RETRY_ATTEMPTS)))
        try:
            resumed = self.inbox.resume()
        except BaseException:
            self.inbox.close()  # no half-built service keeps a sweeping thread
            raise
        if resumed:
            log.info("resuming %d callback record(s) left pending or with an expired lease", resumed)

    def _setting(self, name: str, default: Any) -> Any:
        try:
            return read_setting(self.app.settings, name, default)
        except ValueError as exc:
            raise ValueError(f"{self.fullName}: {exc}") from None

    def _seconds_setting(self, name: str, default: float) -> float:
        return float(self._setting(name, default))

    # -- which login elements ------------------------------------------------------------------

    def instances(self) -> list[Any]:
        """Return every login element of this Type (one per suite) in the app."""
        return [self.getElement(name) for name in self.app.instancesOf(TYPE_NAME)]

    def _instance(self, authFullName: str | None = None, suiteId: str | None = None) -> Any:
        candidates = [i for i in self.instances()
                      if (authFullName is None or i.fullName == authFullName)
                      and (suiteId is None or i.suiteId == suiteId)]
        if not candidates:
            raise LookupError(f"no {TYPE_NAME} element for {authFullName or suiteId}")
        return candidates[0]

    # -- callbacks -----------------------------------------------------------------------------

    def notify(
        self,
        nonce: str | None = None,
        msg_signature: str | None = None,
        timestamp: str | None = None,
        echostr: str | None = None,
        body: bytes | str | None = None,
        authFullName: str | None = None,
    ) -> Any:
        """Answer a WeCom callback with a Flask ``Response``: URL verification (echostr) or an event (the XML body).

        Without ``body``, the body of the current Flask request is read, at most 64 KiB of it.
        """
        # The one place a Type meets the web framework, imported only when asked for a Flask answer.
        from jitlite.web.replies import current_request_body, to_response

        if body is None and echostr is None:
            limit = max([CALLBACK_BODY_LIMIT, *(i.crypto.max_body_bytes for i in self.instances())])
            try:
                body = current_request_body(limit)
            except BodyTooLarge as exc:
                return to_response(self._reject(exc))
        query = {name: value for name, value in (("nonce", nonce), ("msg_signature", msg_signature),
                                                 ("timestamp", timestamp), ("echostr", echostr)) if value is not None}
        return to_response(self.answerCallback(query, body, authFullName=authFullName))

    def answerCallback(self, query: Mapping[str, str], body: bytes | str | None = None,
                       authFullName: str | None = None) -> Reply:
        """Answer a WeCom callback from plain values: the query (nonce, msg_signature, timestamp, echostr), the body."""
        nonce, msg_signature, timestamp = query.get("nonce"), query.get("msg_signature"), query.get("timestamp")
        echostr = query.get("echostr")
        if not (nonce and msg_signature and timestamp):
            return _plain("missing msg_signature, timestamp or nonce", 400)
        candidates = [i for i in self.instances() if authFullName is None or i.fullName == authFullName]
        if echostr is not None:
            return self._verify_url(candidates, msg_signature, timestamp, nonce, echostr)
        if body is None:
            return _plain("missing callback body", 400)
        try:
            instance, message = self._decrypt(candidates, body, msg_signature, timestamp, nonce)
        except CallbackError as exc:
            return self._reject(exc)
        try:
            allowed = self._receive_id_allowed(instance, message.receive_id)
        except Exception as exc:
            return self._unavailable(instance, exc)
        if not allowed:
            log.warning("callback for %s refused: receive-id is neither the suite nor one of its corps",
                        instance.fullName)
            return _plain("invalid callback", 403)
        return self._store(instance, message)

    def _verify_url(self, candidates: list[Any], signature: str, timestamp: str, nonce: str, echostr: str) -> Reply:
        """Answer URL verification with the plain echostr; it spends no nonce a POST will need."""
        for instance in candidates:
            try:
                echo, receive_id = instance.crypto.open_echostr(signature, timestamp, nonce, echostr)
            except SignatureMismatch:
                continue
            except CallbackError as exc:
                return self._reject(exc)
            try:
                allowed = self._receive_id_allowed(instance, receive_id)
            except Exception as exc:
                return self._unavailable(instance, exc)
            if not allowed:
                log.warning("URL verification for %s refused: receive-id is neither the suite nor one of its corps",
                            instance.fullName)
                return _plain("invalid callback", 403)
            return _plain(echo, 200)
        return self._reject(SignatureMismatch("no suite's Token matches the signature"))

    def _decrypt(
        self, candidates: list[Any], body: bytes | str, signature: str, timestamp: str, nonce: str
    ) -> tuple[Any, DecryptedMessage]:
        """Find the suite whose Token signed the callback (one URL may serve several suites).

        No nonce is remembered: the signature binds the nonce and timestamp to the ciphertext, so a
        replay carries the very payload it replays, and the stored record refuses it (see _store).
        """
        for instance in candidates:
            try:
                return instance, instance.crypto.decrypt_message(body, signature, timestamp, nonce,
                                                                 remember_nonce=False)
            except SignatureMismatch:
                continue
        raise SignatureMismatch("no suite's Token matches the signature")

    def _reject(self, exc: CallbackError) -> Reply:
        """Refuse a bad callback: log which check failed, tell the sender nothing more."""
        log.warning("callback refused: %s: %s", type(exc).__name__, exc)
        status = 413 if isinstance(exc, BodyTooLarge) else 403 if isinstance(exc, SignatureMismatch) else 400
        return _plain("invalid callback", status)

    def _unavailable(self, instance: Any, exc: Exception) -> Reply:
        """Answer 503 (WeCom retries) when the callback cannot be checked or stored; never "success"."""
        detail = (str(exc).splitlines() or [""])[0]  # drivers append the SQL and its parameters
        log.error("callback for %s not stored, answered 503 so that WeCom delivers it again: %s: %s",
                  instance.fullName, type(exc).__name__, detail)
        return _plain("temporarily unavailable; deliver again", 503)

    def _receive_id_allowed(self, instance: Any, receive_id: str) -> bool:
        if receive_id in (instance.suiteId, instance.corpId):
            return True
        provider = self.app.settings.get("qywxProviderCorpId")
        if provider and receive_id == provider:
            return True
        return instance.authModel.get(Q(suiteId=instance.suiteId, corpId=receive_id)) is not None

    def _store(self, instance: Any, message: DecryptedMessage) -> Reply:
        """Persist the callback (once per payload) in one short transaction; only then answer success.

        The record is the replay guard too: a replay (or WeCom's retry) of a stored payload is
        acknowledged without being stored or run again. Records are kept longer than the timestamp
        window (see _purge_old_tickets), so within the window no replay finds its record gone.
        """
        fields = message.fields
        is_event = fields.get("MsgType") == "event"
        info_type = fields.get("InfoType") or (fields.get("Event") if is_event else None)
        corp_id = fields.get("AuthCorpId") or (fields.get("ToUserName") if is_event else None)
        try:
            accepted = self.inbox.accept({
                "authFullName": instance.fullName, "suiteId": instance.suiteId, "corpId": corp_id,
                "infoType": info_type or "unknown", "eventTime": _stamp_time(fields.get("TimeStamp")),
                "payloadHash": CallbackInbox.payload_hash(message.xml), "payload": message.xml},
                durable=info_type not in _RECOVERABLE)
        except InboxUnavailable as exc:
            return self._unavailable(instance, exc)
        if accepted.duplicate:
            log.info("redelivered %s callback for %s acknowledged", info_type, instance.fullName)
        return _plain("success", 200)

    def _handle(self, row: Row) -> str:
        """Run the handler of a claimed record's event; return the note for the record."""
        instance = self._instance(row.authFullName)
        fields = parse_flat_xml(row.payload, "callback payload")
        handler = self.handlers.get(row.infoType, self._on_unknown)
        return handler(instance, fields)

    def waitIdle(self, timeout: float = 10.0) -> bool:
        """Wait until every callback this process scheduled is processed; False if time ran out.

        A record that met a passing fault counts as processed while it waits for its retry.
        """
        return self.inbox.wait_idle(timeout)

    def close(self) -> None:
        """Finish the callbacks in hand and stop the worker and the sweep."""
        self.inbox.close()

    def retryCallBack(self, recordId: int) -> None:
        """Process a callback record again now, in this thread: a failed or pending one, or one whose lease expired.

        Raises LeaseHeld (naming the holder and the expiry) while another worker's lease is live.
        """
        self.inbox.retry(int(recordId))

    # -- event handlers: each returns a note for the record ------------------------------------

    def _on_suite_ticket(self, instance: Any, fields: dict[str, str]) -> str:
        instance.saveSuiteTicket(fields["SuiteTicket"], _event_time(fields))
        return "suite_ticket stored"

    def _purge_old_tickets(self) -> int:
        """Delete suite_ticket records done over a day ago (one comes every ten minutes; the inbox runs this
        at a sweep, every ten minutes at most).

        Never sooner than twice the timestamp window: until then a replay must still find its record.
        """
        window = max((instance.crypto.timestamp_window for instance in self.instances()), default=0)
        keep = max(timedelta(days=1), timedelta(seconds=2 * window))
        return int(self.records.deleteByFilter(Q(infoType="suite_ticket", status="done",
                                                 receivedAt__lt=clock.utc_now() - keep)))

    def _superseded(self, rows: list[Row]) -> dict[int, str]:
        """Return the records of a claimed batch a newer one of the same kind makes pointless to run.

        Only the newest suite_ticket of a suite counts, and change_auth only says "re-read this
        corp's auth info", which one re-read does for all: of several in a batch, the one with the
        newest TimeStamp (then the latest received) runs and the others are noted as superseded.
        """
        newest: dict[tuple[str, str, str], tuple[tuple[datetime, int], int]] = {}
        candidates: dict[int, tuple[str, str, str]] = {}
        for row in rows:
            if row.infoType not in _COALESCED or row.eventTime is None:  # stored before eventTime: it runs
                continue
            key = (row.infoType, row.authFullName, row.corpId or "")
            rank = (row.eventTime, row.id)
            candidates[row.id] = key
            if key not in newest or rank > newest[key][0]:
                newest[key] = (rank, row.id)
        return {record_id: f"superseded by record {newest[key][1]}, a newer {key[0]} in the same batch"
                for record_id, key in candidates.items() if newest[key][1] != record_id}

    def _on_auth_code(self, instance: Any, fields: dict[str, str]) -> str:
        corp_id = instance.applyAuthCode(fields["AuthCode"], _event_time(fields))
        note = f"permanent code stored for {corp_id}"
        if fields.get("InfoType") == "create_auth" and self.app.settings.get("syncOnAuthorise"):
            started = sync_in_background(self.app, instance.fullName, corp_id)
            note += f"; first sync of {len(started)} organisation(s) started"
        return note

    def _on_change_auth(self, instance: Any, fields: dict[str, str]) -> str:
        instance.applyChangeAuth(fields["AuthCorpId"], _event_time(fields))
        return f"auth info of {fields['AuthCorpId']} re-read"

    def _on_cancel_auth(self, instance: Any, fields: dict[str, str]) -> str:
        instance.applyCancelAuth(fields["AuthCorpId"], _event_time(fields))
        return f"{fields['AuthCorpId']} deactivated"

    def _on_change_contact(self, instance: Any, fields: dict[str, str]) -> str:
        corp_id = fields.get("AuthCorpId") or fields.get("ToUserName") or ""
        # Folder organisations of the corp, else the one made at run time (corps.Meta's Corp contract).
        corps: list[Corp] = organisations_for(self.app, instance.fullName, corp_id)
        notes = [f"{corp.corpFullName}: {corp.onContactChange(fields)}" for corp in corps]
        return "; ".join(notes) if notes else f"no organisation serves {corp_id}"

    def _on_unknown(self, instance: Any, fields: dict[str, str]) -> str:
        return "recorded; jitlite has no handler for this event"

    # -- workbench login and organisation codes ------------------------------------------------

    def _instance_for_corp(self, corpId: str, authFullName: str | None) -> Any:
        """Return the login element that serves a corp: named, or found through the suite the corp authorised.

        Several elements may share one suite (one per enterprise, as ``QywxProxyCompanyA``/``…B``/``…Default``):
        the one whose ``corpId`` is the corp wins, else the suite's element without a ``corpId``.
        """
        if authFullName is not None:
            instance = self._instance(authFullName)
            instance.requireServes(corpId)
            return instance
        rows = self.getElement(f"{TYPE_NAME}.QywxProxyAuthModel").query(
            Q(corpId=corpId, status="active"), fieldList=["suiteId"], size=100)["rowDatas"]
        suites = sorted({r.suiteId for r in rows} & {i.suiteId for i in self.instances()})
        if not suites:
            raise CorpNotAuthorized(f"corp {corpId} has not authorised any suite of this app (or cancelled its "
                                    "authorisation); an admin of the corp must install the app first")
        if len(suites) > 1:
            raise ValueError(f"corp {corpId} authorised several suites ({', '.join(suites)}); "
                             "pass authFullName to say which login element to use")
        return self._serving(suites[0], corpId)

    def _serving(self, suiteId: str, corpId: str) -> Any:
        """Return the element of a suite for a corp: the one naming the corp, else the first without a corpId."""
        of_suite = sorted((i for i in self.instances() if i.suiteId == suiteId), key=lambda i: i.fullName)
        for instance in of_suite:
            if instance.corpId == corpId:
                return instance
        for instance in of_suite:
            if not instance.corpId:
                return instance
        names = ", ".join(f"{i.fullName} ({i.corpId})" for i in of_suite)
        raise CorpNotAuthorized(f"corp {corpId} authorised suite {suiteId}, but every login element of that suite "
                                f"serves another corp: {names}; add one with \"corpId\": \"{corpId}\" or none")

    def loginByWorkbench(
        self, corpId: str, code: str, platform: str = "app", authFullName: str | None = None
    ) -> dict[str, Any]:
        """Log a member in from the WeCom workbench: user info and a session token."""
        if platform not in PLATFORMS:  # before the one-time code is spent
            raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}, not {platform!r}")
        instance = self._instance_for_corp(corpId, authFullName)
        user, member = instance.loginMember(corpId, code, "workbench")
        session = self.getElement("auths.services.AuthService").openSession(user.userId, corpId, platform)
        return {
            **session,
            "wecomUserId": member["userid"],
            "user": {k: user[k] for k in ("userId", "name", "mobile", "email", "avatar")},
            "corpList": instance.corpList(user.userId, first=corpId),
        }

    def setCode(self, corpId: str, code: str, authFullName: str | None = None) -> None:
        """Give an authorised corp an organisation code, which QR login pages use to find it."""
        if not isinstance(code, str) or not ORG_CODE.fullmatch(code):
            raise ValueError("an organisation code is 1 to 64 letters, digits, '_' or '-'")
        instance = self._instance_for_corp(corpId, authFullName)
        row = instance.corpAuth(corpId)
        try:
            instance.authModel.updateByPK(row.id, {"orgCode": code, "updatedAt": clock.utc_now()})
        except ConstraintError:
            raise ValueError(f"organisation code {code!r} is already used by another corp") from None

    def getLoginConfigByCode(self, code: str) -> dict[str, Any]:
        """Return ``{corpId, agentId, …}`` of the corp with this organisation code, for QR login."""
        row: Row | None = self.getElement(f"{TYPE_NAME}.QywxProxyAuthModel").get(
            Q(orgCode=str(code), status="active"))
        if row is None:
            raise AuthError(f"unknown organisation code {code!r}; check the code, or ask the admin to set it")
        instance = self._instance(suiteId=row.suiteId)
        return {"corpId": row.corpId, "agentId": row.agentId, "corpName": row.corpName,
                "suiteId": row.suiteId, "authFullName": instance.fullName}

    # Seeds' usage example calls it getLoginConfig(code=…): accept that spelling too.
    def getLoginConfig(self, code: str) -> dict[str, Any]:
        """Return the QR login config of an organisation code (same as getLoginConfigByCode)."""
        return self.getLoginConfigByCode(code)


def _stamp_time(stamp: str | None) -> datetime | None:
    """Return a callback's TimeStamp (Unix seconds) as a UTC time, or None when it has none or a bad one."""
    if stamp is None or not stamp.isdigit() or len(stamp) > 12:
        return None
    try:
        return datetime.fromtimestamp(int(stamp), timezone.utc)
    except (ValueError, OverflowError, OSError):  # past the year 9999: as bad as no stamp
        return None


def _event_time(fields: dict[str, str]) -> float:
    """Return the event's TimeStamp, or now on the app's clock when it has none (or a bad one)."""
    stamp = _stamp_time(fields.get("TimeStamp"))
    return clock.now() if stamp is None else stamp.timestamp()
