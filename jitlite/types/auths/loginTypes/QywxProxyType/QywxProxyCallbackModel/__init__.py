"""``QywxProxyCallbackModel``: each callback WeCom delivered, persisted before it is answered.

It is the record model of the proxy service's callback inbox (``jitlite.meta.inbox``).
"""

from __future__ import annotations

from jitlite.meta.models import ModelElement
from jitlite.storage import Datetime, Integer, Ltext, Model, Secret, Stext, utc_now

__all__ = ["CALLBACK_STATUSES", "QywxProxyCallbackModel", "QywxProxyCallbackTable"]

# "processing" marks a record a worker has claimed under a lease (leaseOwner, leaseExpiresAt), so two
# live workers never run one callback, and a dead worker's claim is taken over once its lease expires.
CALLBACK_STATUSES = ("pending", "processing", "done", "failed")


class QywxProxyCallbackTable(Model):
    """One delivery; the decrypted payload holds tickets and auth codes, so it is encrypted."""

    __tablename__ = "jit_qywx_proxy_callback"
    __unique__ = (("authFullName", "payloadHash"),)
    __indexes__ = ("status", "infoType")

    authFullName = Stext(max_length=255, title="The login element the callback is for")
    suiteId = Stext(max_length=64, title="Suite id")
    corpId = Stext(max_length=64, nullable=True, title="The corp the event is about")
    infoType = Stext(max_length=64, title="InfoType, or Event for event-style callbacks")
    eventTime = Datetime(nullable=True, title="The event's TimeStamp (orders the events of one kind)")
    payloadHash = Stext(max_length=64, title="SHA-256 of the decrypted payload (deduplicates retries)")
    payload = Secret(title="The decrypted XML")
    status = Stext(max_length=16, default="pending", title="pending, processing, done or failed")
    attempts = Integer(default=0, title="Processing attempts")
    lastError = Ltext(nullable=True, title="The last processing error")
    note = Ltext(nullable=True, title="What processing did")
    receivedAt = Datetime(default=utc_now, title="Received")
    processedAt = Datetime(nullable=True, title="Last processed")
    leaseOwner = Stext(max_length=255, nullable=True, title="The worker that claimed it last (host:pid:id:claim)")
    leaseExpiresAt = Datetime(nullable=True, title="When the current claim lapses unless renewed")


class QywxProxyCallbackModel(ModelElement):
    """Callbacks of every proxy-development suite of the app."""

    table = QywxProxyCallbackTable
