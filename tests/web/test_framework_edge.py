"""Framework at the edge: Types answer HTTP with plain replies; Flask appears only in jitlite.web."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import pytest
from flask import Flask, Response

import jitlite
from jitlite.meta.replies import Reply, to_plain
from jitlite.meta.routes import ApiFunction, Inbound, Route
from jitlite.sandbox.defaults import DEFAULT_SUITE_ID
from jitlite.storage import Row
from jitlite.types.datatypes.Meta import datatypes
from jitlite.web import create_web_app

from .conftest import PROXY, SERVICE


def verification(app: jitlite.App, nonce: str = "n-edge") -> dict[str, str]:
    login = app.getElement(PROXY)
    timestamp = str(int(time.time()))
    echostr = login.crypto.encrypt("echo-edge", DEFAULT_SUITE_ID)
    return {"nonce": nonce, "timestamp": timestamp, "echostr": echostr,
            "msg_signature": login.crypto.signature(timestamp, nonce, echostr)}


def test_type_modules_load_without_flask() -> None:
    code = ("import sys, jitlite\n"
            "import jitlite.types.auths.loginTypes.QywxProxyType.services.QywxProxyAuthService\n"
            "import jitlite.types.auths.loginTypes.QywxProxyType, jitlite.types.auths.loginTypes.WeChatType\n"
            "import jitlite.types.auths.loginTypes.QywxInnerType, jitlite.meta.routes, jitlite.meta.replies\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug'))\n"
            "assert not loaded, loaded\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_answer_callback_takes_plain_values_and_returns_a_reply(demo: jitlite.App) -> None:
    service = demo.getElement(SERVICE)
    args = verification(demo)
    reply = service.answerCallback({k: v for k, v in args.items()})
    assert reply == Reply(200, "echo-edge")
    assert service.answerCallback({"nonce": "n"}) == Reply(400, "missing msg_signature, timestamp or nonce")
    assert service.answerCallback({"nonce": "n", "timestamp": "1", "msg_signature": "s"}).status == 400


def test_notify_keeps_the_seeds_contract_outside_and_inside_a_request(demo: jitlite.App) -> None:
    service = demo.getElement(SERVICE)
    response = service.notify(**verification(demo))  # as the seed writes it, outside any request
    assert isinstance(response, Response)
    assert (response.status_code, response.get_data(as_text=True), response.mimetype) == (200, "echo-edge",
                                                                                          "text/plain")
    host = Flask("host")  # a user's own Flask route calling notify as the seed's example does

    with host.test_request_context("/cb", method="POST", data=b"<xml>not encrypted</xml>",
                                   query_string={"nonce": "n1", "timestamp": str(int(time.time())),
                                                 "msg_signature": "s"}):
        from flask import request

        answer = service.notify(nonce=request.args.get("nonce"), msg_signature=request.args.get("msg_signature"),
                                timestamp=request.args.get("timestamp"), echostr=request.args.get("echostr"))
        assert (answer.status_code, answer.get_data(as_text=True)) == (400, "invalid callback")  # the body was read
    with host.test_request_context("/cb", method="POST", data=b"x" * (64 * 1024 + 1)):
        answer = service.notify(nonce="n2", msg_signature="s", timestamp=str(int(time.time())))
        assert (answer.status_code, answer.get_data(as_text=True)) == (413, "invalid callback")
    missing = service.notify(nonce="n3", msg_signature="s", timestamp="1")  # no body, no request
    assert (missing.status_code, missing.get_data(as_text=True)) == (400, "missing callback body")


class Trickle(io.RawIOBase):
    """A chunked request body that arrives a few bytes per read, as a socket may give it."""

    def __init__(self, data: bytes, step: int = 7) -> None:
        self.data, self.step = data, step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        piece, self.data = self.data[:min(self.step, len(buffer))], self.data[min(self.step, len(buffer)):]
        buffer[:len(piece)] = piece
        return len(piece)


def test_the_body_notify_reads_is_whole_when_a_chunked_stream_arrives_in_pieces() -> None:
    from jitlite.web.replies import current_request_body
    from jitlite.wecom import BodyTooLarge

    host = Flask("host")
    body = b"<xml><Encrypt>" + b"a" * 60 + b"</Encrypt></xml>"
    for limit, expected in ((len(body), body), (len(body) - 1, None)):
        environ = {"wsgi.input": Trickle(body), "wsgi.input_terminated": True}  # no Content-Length: chunked
        with host.test_request_context("/cb", method="POST", environ_overrides=environ):
            if expected is None:
                with pytest.raises(BodyTooLarge, match=f"over the {limit}-byte limit"):
                    current_request_body(limit)
            else:
                assert current_request_body(limit) == expected


def test_replies_and_plain_values() -> None:
    assert Reply.json({"at": datetime(2024, 5, 6, tzinfo=timezone.utc), "n": {1, 2} - {2}}).text == \
        '{"at": "2024-05-06T00:00:00+00:00", "n": [1]}'
    assert Reply.redirect("/login").location == "/login"
    with pytest.raises(ValueError, match="line breaks"):
        Reply(302, "", headers=(("Location", "/x\r\nSet-Cookie: a=b"),))
    with pytest.raises(ValueError, match="status"):
        Reply(99)
    with pytest.raises(ValueError, match="redirect"):
        Reply.redirect("/x", 200)
    row = Row("Auth", {"corpId": "ww1", "permanentCode": "p-secret", "none": None}, frozenset({"permanentCode",
                                                                                              "none"}))
    assert to_plain([row]) == [{"corpId": "ww1", "permanentCode": "******", "none": None}]
    assert to_plain(datatypes.Money(value=3.5)) == 3.5
    with pytest.raises(TypeError, match="cannot be answered as JSON"):
        to_plain(object())


def test_route_and_api_declarations_are_checked() -> None:
    def handler(request: Inbound) -> Reply:
        return Reply.plain("ok")

    with pytest.raises(ValueError, match="rule"):
        Route("no-slash", ("GET",), handler, "bad")
    with pytest.raises(ValueError, match="methods"):
        Route("/x", ("BREW",), handler, "bad")
    with pytest.raises(ValueError, match="access"):
        ApiFunction("everyone")  # type: ignore[arg-type]
    assert not ApiFunction("public").loginRequired and ApiFunction().loginRequired


CONFLICT_TYPE = (
    "from typing import Any\n\n"
    "from jitlite.meta.auths import LoginType\n"
    "from jitlite.meta.replies import Reply\n"
    "from jitlite.meta.routes import Route\n\n\n"
    "class Clash(LoginType):\n"
    "    @classmethod\n"
    "    def webRoutes(cls, app: Any) -> list[Route]:\n"
    "        return [Route('/callbacks/qywx-proxy', ('POST',), lambda r: Reply.plain('mine'), 'clash')]\n"
)


def test_two_types_may_not_claim_one_url(open_demo: Callable[..., jitlite.App]) -> None:
    with pytest.raises(ValueError, match=r"declares route /callbacks/qywx-proxy .* already declares"):
        open_demo({  # connecting the app to the sandbox builds its web layer
            "auths/loginTypes/ClashType/e.json": {"title": "Clash", "type": "auths.loginTypes.Meta",
                                                  "className": "Clash", "backendBundleEntry": "."},
            "auths/loginTypes/ClashType/__init__.py": CONFLICT_TYPE,
            "auths/ClashLogin/e.json": {"title": "Clash login", "type": "auths.loginTypes.ClashType"},
            "auths/ClashLogin/ClashLogin.json": {},
        })


def test_a_subclass_type_serves_its_inherited_routes_once(open_demo: Callable[..., jitlite.App]) -> None:
    source = ("from jitlite.types.auths.loginTypes.QywxProxyType import QywxProxyAuth\n\n\n"
              "class Branded(QywxProxyAuth):\n    pass\n")
    config: dict[str, Any] = {"authConfig": {"suiteId": "tjbranded", "suiteSecret": "s", "encodingAESKey": "Q" * 43,
                                             "token": "t"}}
    app = open_demo({
        "auths/loginTypes/BrandedType/e.json": {"title": "Branded", "type": "auths.loginTypes.QywxProxyType",
                                                "isType": True, "className": "Branded", "backendBundleEntry": "."},
        "auths/loginTypes/BrandedType/__init__.py": source,
        "auths/BrandedLogin/e.json": {"title": "Branded login", "type": "auths.loginTypes.BrandedType"},
        "auths/BrandedLogin/BrandedLogin.json": config,
    })
    web = create_web_app(app).test_client()
    assert web.get("/callbacks/qywx-proxy/auths.BrandedLogin").status_code == 400  # mounted, and it answers
