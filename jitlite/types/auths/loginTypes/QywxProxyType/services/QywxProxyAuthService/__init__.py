"""The service of ``auths.loginTypes.QywxProxyType``: callbacks, workbench login, organisation codes.

Callbacks are answered within WeCom's one second whatever processing costs: ``notify`` verifies and
decrypts, **stores a record first**, answers ``success``, and a worker thread processes the record
afterwards. A redelivery (same decrypted payload) is acknowledged and not processed twice; a record
that failed stays ``failed`` with its error until ``retryCallBack`` runs it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import Response, request

from jitlite.meta.services import Service
from jitlite.runtime.errors import AuthError, CorpNotAuthorized
from jitlite.storage import ConstraintError, Q, Row
from jitlite.wecom import (
    BodyTooLarge,
    CallbackError,
    DecryptedMessage,
    ReplayedNonce,
    SignatureMismatch,
)
from jitlite.wecom.errors import redact

__all__ = ["QywxProxyAuthService"]

log = logging.getLogger("jitlite.qywx_proxy.callbacks")

TYPE_NAME = "auths.loginTypes.QywxProxyType"
CALLBACK_MODEL = "auths.loginTypes.QywxProxyType.QywxProxyCallbackModel"
STALE_CLAIM = timedelta(minutes=5)  # a "processing" claim older than this belongs to a dead worker
ORG_CODE = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_ERROR_TEXT_LIMIT = 2000


def _utc() -> datetime:
    return datetime.now(timezone.utc)


def _plain(text: str, status: int) -> Response:
    return Response(text, status=status, mimetype="text/plain")


class QywxProxyAuthService(Service):
    """Receives WeCom's suite callbacks and logs members in from the workbench."""

    def onLoad(self) -> None:
        """Open the callback records and start the worker; resume records a restart left behind."""
        self.records = self.getElement(CALLBACK_MODEL)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qywx-proxy-callbacks")
        self._futures: set[Future[None]] = set()
        self._futures_lock = threading.Lock()
        self.handlers: dict[str, Callable[[Any, dict[str, str]], str]] = {
            "suite_ticket": self._on_suite_ticket,
            "create_auth": self._on_auth_code,
            "reset_permanent_code": self._on_auth_code,
            "change_auth": self._on_change_auth,
            "cancel_auth": self._on_cancel_auth,
            "change_contact": self._on_change_contact,
        }
        for row in self.records.query(Q(status="pending"), fieldList=["id"], orderList=[["id", 1]],
                                      size=10_000)["rowDatas"]:
            self._schedule(row.id)

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
    ) -> Response:
        """Answer a WeCom callback: URL verification (with echostr) or an event (the XML body)."""
        if not (nonce and msg_signature and timestamp):
            return _plain("missing msg_signature, timestamp or nonce", 400)
        candidates = [i for i in self.instances() if authFullName is None or i.fullName == authFullName]
        if echostr is not None:
            return self._verify_url(candidates, msg_signature, timestamp, nonce, echostr)
        if body is None:
            body = request.get_data(cache=False)
        try:
            instance, message = self._decrypt(candidates, body, msg_signature, timestamp, nonce)
        except ReplayedNonce:
            # Signed correctly and seen before: a redelivery, already stored. Answer as WeCom expects.
            return _plain("success", 200)
        except CallbackError as exc:
            return self._reject(exc)
        if not self._receive_id_allowed(instance, message.receive_id):
            log.warning("callback for %s refused: receive-id is neither the suite nor one of its corps",
                        instance.fullName)
            return _plain("invalid callback", 403)
        self._store(instance, message)
        return _plain("success", 200)

    def _verify_url(self, candidates: list[Any], signature: str, timestamp: str, nonce: str, echostr: str) -> Response:
        for instance in candidates:
            try:
                return _plain(instance.crypto.verify_url(signature, timestamp, nonce, echostr), 200)
            except SignatureMismatch:
                continue
            except CallbackError as exc:
                return self._reject(exc)
        return self._reject(SignatureMismatch("no suite's Token matches the signature"))

    def _decrypt(
        self, candidates: list[Any], body: bytes | str, signature: str, timestamp: str, nonce: str
    ) -> tuple[Any, DecryptedMessage]:
        """Find the suite whose Token signed the callback (one URL may serve several suites)."""
        for instance in candidates:
            try:
                return instance, instance.crypto.decrypt_message(body, signature, timestamp, nonce)
            except SignatureMismatch:
                continue
        raise SignatureMismatch("no suite's Token matches the signature")

    def _reject(self, exc: CallbackError) -> Response:
        """Refuse a bad callback: log which check failed, tell the sender nothing more."""
        log.warning("callback refused: %s: %s", type(exc).__name__, exc)
        status = 413 if isinstance(exc, BodyTooLarge) else 403 if isinstance(exc, SignatureMismatch) else 400
        return _plain("invalid callback", status)

    def _receive_id_allowed(self, instance: Any, receive_id: str) -> bool:
        if receive_id in (instance.suiteId, instance.corpId):
            return True
        provider = self.app.settings.get("qywxProviderCorpId")
        if provider and receive_id == provider:
            return True
        return instance.authModel.get(Q(suiteId=instance.suiteId, corpId=receive_id)) is not None

    def _store(self, instance: Any, message: DecryptedMessage) -> None:
        """Persist the callback (once per payload), then hand it to the worker."""
        fields = message.fields
        info_type = fields.get("InfoType") or (fields.get("Event") if fields.get("MsgType") == "event" else None)
        corp_id = fields.get("AuthCorpId") or (fields.get("ToUserName") if fields.get("MsgType") == "event" else None)
        digest = hashlib.sha256(message.xml.encode("utf-8")).hexdigest()
        try:
            row = self.records.create({
                "authFullName": instance.fullName, "suiteId": instance.suiteId, "corpId": corp_id,
                "infoType": info_type or "unknown", "payloadHash": digest, "payload": message.xml})
        except ConstraintError:
            log.info("duplicate %s callback for %s acknowledged", info_type, instance.fullName)
            return
        self._schedule(row.id)

    def _schedule(self, record_id: int) -> None:
        future = self._executor.submit(self._run_quietly, record_id)
        with self._futures_lock:
            self._futures.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._futures_lock:
            self._futures.discard(future)

    def _run_quietly(self, record_id: int) -> None:
        # A failure is already recorded on the row; the worker thread must not die of it.
        with contextlib.suppress(Exception):
            self._process(record_id, from_status=("pending",))

    def waitIdle(self, timeout: float = 10.0) -> bool:
        """Wait until every scheduled callback is processed; False if time ran out."""
        deadline = time.monotonic() + timeout
        while True:
            with self._futures_lock:
                pending = set(self._futures)
            if not pending:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            wait_futures(pending, timeout=remaining)

    def close(self) -> None:
        """Finish the callbacks in hand and stop the worker."""
        self._executor.shutdown(wait=True)

    def retryCallBack(self, recordId: int) -> None:
        """Process a failed or pending callback record again (now, in this thread)."""
        row = self.records.get(Q(id=int(recordId)))
        if row is None:
            raise LookupError(f"no callback record {recordId}")
        if row.status not in ("failed", "pending"):
            raise ValueError(f"callback record {recordId} is {row.status}; only failed or pending ones are retried")
        self._process(row.id, from_status=("failed", "pending"))

    def _process(self, record_id: int, from_status: tuple[str, ...]) -> None:
        """Claim a record (one worker wins), run its handler, and record the outcome."""
        now = _utc()
        claimable = Q(status__in=list(from_status)) | Q(status="processing", processedAt__lt=now - STALE_CLAIM)
        row = self.records.get(Q(id=record_id))
        if row is None or not self.records.updateByFilter(
                Q(id=record_id) & claimable, {"status": "processing", "processedAt": now,
                                              "attempts": row.attempts + 1}):
            return
        try:
            instance = self._instance(row.authFullName)
            fields = _fields(row.payload)
            handler = self.handlers.get(row.infoType, self._on_unknown)
            note = handler(instance, fields)
        except Exception as exc:
            text = redact(f"{type(exc).__name__}: {exc}")[:_ERROR_TEXT_LIMIT]
            self.records.updateByPK(record_id, {"status": "failed", "lastError": text, "processedAt": _utc()})
            log.warning("callback %s (%s) failed: %s", record_id, row.infoType, text)
            raise
        self.records.updateByPK(record_id, {"status": "done", "note": note, "lastError": None,
                                            "processedAt": _utc()})

    # -- event handlers: each returns a note for the record ------------------------------------

    def _on_suite_ticket(self, instance: Any, fields: dict[str, str]) -> str:
        instance.saveSuiteTicket(fields["SuiteTicket"], _event_time(fields))
        # Tickets come every ten minutes; keep a day of their records, not all of them.
        self.records.deleteByFilter(Q(infoType="suite_ticket", status="done",
                                      receivedAt__lt=_utc() - timedelta(days=1)))
        return "suite_ticket stored"

    def _on_auth_code(self, instance: Any, fields: dict[str, str]) -> str:
        corp_id = instance.applyAuthCode(fields["AuthCode"], _event_time(fields))
        return f"permanent code stored for {corp_id}"

    def _on_change_auth(self, instance: Any, fields: dict[str, str]) -> str:
        instance.applyChangeAuth(fields["AuthCorpId"], _event_time(fields))
        return f"auth info of {fields['AuthCorpId']} re-read"

    def _on_cancel_auth(self, instance: Any, fields: dict[str, str]) -> str:
        instance.applyCancelAuth(fields["AuthCorpId"], _event_time(fields))
        return f"{fields['AuthCorpId']} deactivated"

    def _on_change_contact(self, instance: Any, fields: dict[str, str]) -> str:
        corp_id = fields.get("AuthCorpId") or fields.get("ToUserName") or ""
        handled = 0
        for name in self.app.instancesOf("corps.QywxProxyType"):
            corp = self.getElement(name)
            if corp.corpId == corp_id and corp.authFullName == instance.fullName and hasattr(corp, "onContactChange"):
                corp.onContactChange(fields)
                handled += 1
        return f"handed to {handled} organisation element(s)" if handled else f"no organisation element syncs {corp_id}"

    def _on_unknown(self, instance: Any, fields: dict[str, str]) -> str:
        return "recorded; jitlite has no handler for this event"

    # -- workbench login and organisation codes ------------------------------------------------

    def _instance_for_corp(self, corpId: str, authFullName: str | None) -> Any:
        if authFullName is not None:
            return self._instance(authFullName)
        rows = self.getElement(f"{TYPE_NAME}.QywxProxyAuthModel").query(
            Q(corpId=corpId, status="active"), fieldList=["suiteId"], size=100)["rowDatas"]
        suites = {r.suiteId for r in rows}
        instances = [i for i in self.instances() if i.suiteId in suites]
        if not instances:
            raise CorpNotAuthorized(f"corp {corpId} has not authorised any suite of this app")
        if len(instances) > 1:
            raise ValueError(f"corp {corpId} authorised several suites ({', '.join(sorted(suites))}); "
                             "pass authFullName to say which login element to use")
        return instances[0]

    def loginByWorkbench(
        self, corpId: str, code: str, platform: str = "app", authFullName: str | None = None
    ) -> dict[str, Any]:
        """Log a member in from the WeCom workbench: user info and a session token."""
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
            instance.authModel.updateByPK(row.id, {"orgCode": code, "updatedAt": _utc()})
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


def _fields(xml: str) -> dict[str, str]:
    from jitlite.wecom import parse_flat_xml

    return parse_flat_xml(xml, "callback payload")


def _event_time(fields: dict[str, str]) -> float:
    try:
        return float(fields.get("TimeStamp") or time.time())
    except ValueError:
        return time.time()
