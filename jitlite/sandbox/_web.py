"""Flask plumbing shared by the sandbox blueprints: the state, JSON answers, method checks."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, request

from jitlite.sandbox.errors import ApiError
from jitlite.sandbox.state import SandboxState

__all__ = ["EXTENSION", "api_route", "arg", "json_body", "json_response", "ok", "ok_encoded", "sandbox_state"]

EXTENSION = "jitlite_sandbox"

F = TypeVar("F", bound=Callable[..., Response])


def sandbox_state() -> SandboxState:
    """Return the state of the sandbox app handling the request."""
    state: SandboxState = current_app.extensions[EXTENSION]
    return state


def json_response(data: dict[str, Any], status: int = 200) -> Response:
    """Return `data` as UTF-8 JSON, Chinese left readable as WeCom sends it."""
    g.sandbox_errcode = data.get("errcode")
    return Response(json.dumps(data, ensure_ascii=False), status=status,
                    content_type="application/json; charset=utf-8")


def ok(**data: Any) -> Response:
    """Return a WeCom success answer carrying `data`."""
    return json_response({"errcode": 0, "errmsg": "ok", **data})


def ok_encoded(**encoded: str) -> Response:
    """Return a WeCom success answer whose fields are given already encoded as JSON text."""
    g.sandbox_errcode = 0
    fields = "".join(f", {json.dumps(name)}: {text}" for name, text in encoded.items())
    return Response('{"errcode": 0, "errmsg": "ok"' + fields + "}", status=200,
                    content_type="application/json; charset=utf-8")


def arg(name: str) -> str | None:
    """Return a query parameter, None when absent or empty."""
    value = request.args.get(name)
    return value or None


def json_body() -> dict[str, Any]:
    """Return the JSON object posted, or raise 47001 for a body that is not one."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(47001) from None
    if not isinstance(data, dict):
        raise ApiError(47001)
    return data


def api_route(bp: Blueprint, rule: str, method: str) -> Callable[[F], F]:
    """Register a view that answers 43001/43002 when called with the wrong HTTP method."""

    def decorate(view: F) -> F:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Response:
            if request.method != method:
                raise ApiError(43001 if method == "GET" else 43002)
            return view(*args, **kwargs)

        bp.add_url_rule(rule, view_func=checked, methods=["GET", "POST"])
        return view

    return decorate
