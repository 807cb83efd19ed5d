"""Bounded request bodies and validated inputs for the web layer.

A body is refused with 413 from its ``Content-Length`` before any of it is read, and a body without
one (chunked) is read only up to the route's limit plus one byte, so an oversized request costs the
server at most the limit. JSON bodies must be ``application/json`` objects of the fields a route
takes, with the types it takes; anything else is a 400 that says what is wrong.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from flask import request
from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationError
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge

__all__ = [
    "CALLBACK_BODY_LIMIT",
    "JSON_BODY_LIMIT",
    "LoginCodeRequest",
    "QrUrlQuery",
    "SessionRequest",
    "json_body",
    "query_args",
    "read_body",
]

#: Largest WeCom callback body accepted (real ones are a few KiB of encrypted XML).
CALLBACK_BODY_LIMIT = 64 * 1024
#: Largest JSON body the login and session endpoints accept (theirs are a few hundred bytes).
JSON_BODY_LIMIT = 16 * 1024

M = TypeVar("M", bound=BaseModel)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _http_url(value: str) -> str:
    if not value.lower().startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    return value


_PLAIN = AfterValidator(_no_control_characters)
CorpId = Annotated[str, StringConstraints(min_length=1, max_length=128), _PLAIN]
Code = Annotated[str, StringConstraints(min_length=1, max_length=512), _PLAIN]
State = Annotated[str, StringConstraints(min_length=1, max_length=128), _PLAIN]
LoginTypeName = Annotated[str, StringConstraints(min_length=1, max_length=32), _PLAIN]
LoginCode = Annotated[str, StringConstraints(min_length=1, max_length=256), _PLAIN]
HttpUrl = Annotated[str, StringConstraints(min_length=1, max_length=2048), _PLAIN, AfterValidator(_http_url)]
Platform = Literal["app", "web", "mobile"]


class _Input(BaseModel):
    # strict: a number is not a string; extra fields are ignored so front ends may send more.
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class LoginCodeRequest(_Input):
    """``POST /auth/<login>/login-code``: a WeCom/WeChat code and the state its login issued."""

    code: Code
    state: State | None = None
    corpId: CorpId | None = None
    loginType: LoginTypeName | None = None


class SessionRequest(_Input):
    """``POST /auth/session``: a login code, the corp picked and the platform."""

    loginCode: LoginCode
    corpId: CorpId | None = None
    platform: Platform = "app"


class QrUrlQuery(_Input):
    """``GET /auth/<login>/qr-url``: the corp and where WeCom sends the browser back."""

    corpId: CorpId
    redirectUri: HttpUrl


def read_body(limit: int) -> bytes:
    """Return the request body, or raise 413 if it is longer than ``limit`` bytes (reading at most limit + 1)."""
    length = request.content_length
    if length is not None and length > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    total = 0
    try:
        stream = request.stream
        while total <= limit:
            # A chunked stream may return fewer bytes than asked: loop, never asking past limit + 1.
            chunk = stream.read(limit + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if length is not None and total >= length:
                break  # the stream ends at the declared length: no read to find its end
    except RequestEntityTooLarge:  # the app's MAX_CONTENT_LENGTH, if lower, stopped the stream first
        raise _too_large(limit) from None
    if total > limit:
        raise _too_large(limit)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _too_large(limit: int) -> RequestEntityTooLarge:
    return RequestEntityTooLarge(f"the request body is larger than {limit} bytes")


def json_body(model: type[M], limit: int = JSON_BODY_LIMIT) -> M:
    """Return the request's JSON object body validated as ``model``; raise 400 or 413 otherwise."""
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise BadRequest("send the body as JSON with Content-Type: application/json")
    raw = read_body(limit)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise BadRequest(_describe(exc, "body")) from None


def query_args(model: type[M], **aliases: str) -> M:
    """Return the query string validated as ``model`` (first value of each name); raise 400 otherwise.

    ``aliases`` maps a model field to another query name accepted when the field's own is absent.
    """
    values: dict[str, Any] = request.args.to_dict(flat=True)
    for field, alias in aliases.items():
        if field not in values and alias in values:
            values[field] = values[alias]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise BadRequest(_describe(exc, "query")) from None


def _describe(exc: ValidationError, where: str) -> str:
    """Return what is wrong with a body or query, by field, without echoing the values sent."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        location = ".".join(str(part) for part in error["loc"])
        if error["type"] == "json_invalid":
            return f"the {where} is not valid JSON (UTF-8): {error['msg'].removeprefix('Invalid JSON: ')}"
        if error["type"] == "model_type" and not location:
            return f"the {where} must be a JSON object of named fields"
        problems.append(f"{location}: {error['msg']}" if location else error["msg"])
    return f"invalid request {where}: " + "; ".join(problems)
