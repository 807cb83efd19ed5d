"""The edge where plain replies become Flask responses (and the only Flask code Types ever reach).

Types answer HTTP with :class:`jitlite.meta.replies.Reply` and never import Flask. The web layer
turns a reply into a response here; so does ``QywxProxyAuthService.notify``, whose documented
contract is to return a Flask ``Response``: it imports this module inside the call, so a Type module
loads without Flask and the import-linter contract keeps that true everywhere else.
"""

from __future__ import annotations

from flask import Response, has_request_context, request
from werkzeug.exceptions import RequestEntityTooLarge

from jitlite.meta.replies import Reply
from jitlite.wecom import BodyTooLarge

from .bodies import read_body

__all__ = ["current_request_body", "to_response"]


def to_response(reply: Reply, root: str = "") -> Response:
    """Return a Flask response of a reply; a redirect to ``/path`` is made relative to ``root`` (the mount point)."""
    response = Response(reply.text, status=reply.status, content_type=reply.content_type)
    for name, value in reply.headers:
        if name.lower() == "location" and value.startswith("/") and not value.startswith("//"):
            value = root + value
        response.headers[name] = value
    return response


def current_request_body(limit: int) -> bytes | None:
    """Return the current Flask request's body (None outside a request); raise BodyTooLarge past ``limit`` bytes.

    A declared length over the bound is refused before anything is read; otherwise at most
    ``limit + 1`` bytes are read.
    """
    if not has_request_context():
        return None
    try:
        return read_body(limit)  # the web layer's bounded reader (a chunked stream is read to its end)
    except RequestEntityTooLarge:
        declared = request.content_length
        size = f"{declared} bytes" if declared is not None and declared > limit else "longer"
        raise BodyTooLarge(f"the body is {size}, over the {limit}-byte limit") from None
