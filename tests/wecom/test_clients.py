"""Every endpoint's request shape (method, path, query, JSON body) and response handling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from pytest_httpx import HTTPXMock

from jitlite.wecom import (
    CorpClient,
    LocalTokenCache,
    ProviderClient,
    SuiteClient,
    TokenManager,
    TransportError,
    UpstreamBusyError,
    WeChatClient,
)

WECOM = "https://qyapi.weixin.qq.com"
WECHAT = "https://api.weixin.qq.com"
OK = {"errcode": 0, "errmsg": "ok"}


@dataclass
class Case:
    """One endpoint call: how to make it and what must go over the wire."""

    client: str  # fixture name
    call: Callable[[Any], Any]
    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    response: dict[str, Any] = field(default_factory=dict)
    expected: Any = None


CORP_CASES = {
    "department.simplelist": Case(
        "corp",
        lambda c: c.department.simplelist(),
        "GET",
        f"{WECOM}/cgi-bin/department/simplelist",
        response={**OK, "department_id": [{"id": 1, "parentid": 0, "order": 100}]},
        expected=[{"id": 1, "parentid": 0, "order": 100}],
    ),
    "department.simplelist(id)": Case(
        "corp",
        lambda c: c.department.simplelist(id=2),
        "GET",
        f"{WECOM}/cgi-bin/department/simplelist",
        params={"id": "2"},
        response={**OK, "department_id": []},
        expected=[],
    ),
    "department.list": Case(
        "corp",
        lambda c: c.department.list(),
        "GET",
        f"{WECOM}/cgi-bin/department/list",
        response={**OK, "department": [{"id": 1, "name": "总部", "parentid": 0}]},
        expected=[{"id": 1, "name": "总部", "parentid": 0}],
    ),
    "department.list(id)": Case(
        "corp",
        lambda c: c.department.list(id=5),
        "GET",
        f"{WECOM}/cgi-bin/department/list",
        params={"id": "5"},
        response={**OK, "department": [{"id": 5, "name": "研发部", "parentid": 1}]},
        expected=[{"id": 5, "name": "研发部", "parentid": 1}],
    ),
    "department.get": Case(
        "corp",
        lambda c: c.department.get(5),
        "GET",
        f"{WECOM}/cgi-bin/department/get",
        params={"id": "5"},
        response={**OK, "department": {"id": 5, "name": "研发部", "parentid": 1, "order": 1}},
        expected={"id": 5, "name": "研发部", "parentid": 1, "order": 1},
    ),
    "user.get": Case(
        "corp",
        lambda c: c.user.get("zhangsan"),
        "GET",
        f"{WECOM}/cgi-bin/user/get",
        params={"userid": "zhangsan"},
        response={**OK, "userid": "zhangsan", "name": "张三", "department": [1, 5]},
        expected={"userid": "zhangsan", "name": "张三", "department": [1, 5]},
    ),
    "user.list": Case(
        "corp",
        lambda c: c.user.list(5),
        "GET",
        f"{WECOM}/cgi-bin/user/list",
        params={"department_id": "5"},
        response={**OK, "userlist": [{"userid": "zhangsan", "name": "张三"}]},
        expected=[{"userid": "zhangsan", "name": "张三"}],
    ),
    "user.simplelist": Case(
        "corp",
        lambda c: c.user.simplelist(5),
        "GET",
        f"{WECOM}/cgi-bin/user/simplelist",
        params={"department_id": "5"},
        response={**OK, "userlist": [{"userid": "lisi", "name": "李四", "department": [5]}]},
        expected=[{"userid": "lisi", "name": "李四", "department": [5]}],
    ),
    "user.list_id": Case(
        "corp",
        lambda c: c.user.list_id(),
        "POST",
        f"{WECOM}/cgi-bin/user/list_id",
        body={"limit": 10000},
        response={**OK, "next_cursor": "c1", "dept_user": [{"userid": "zhangsan", "department": 1}]},
        expected={"next_cursor": "c1", "dept_user": [{"userid": "zhangsan", "department": 1}]},
    ),
    "user.list_id(cursor)": Case(
        "corp",
        lambda c: c.user.list_id(cursor="c1", limit=100),
        "POST",
        f"{WECOM}/cgi-bin/user/list_id",
        body={"cursor": "c1", "limit": 100},
        response={**OK, "dept_user": []},
        expected={"next_cursor": "", "dept_user": []},
    ),
    "oauth.getuserinfo": Case(
        "corp",
        lambda c: c.oauth.getuserinfo("CODE1"),
        "GET",
        f"{WECOM}/cgi-bin/auth/getuserinfo",
        params={"code": "CODE1"},
        response={**OK, "userid": "zhangsan", "user_ticket": "UT"},
        expected={"userid": "zhangsan", "user_ticket": "UT"},
    ),
    "oauth.getuserdetail": Case(
        "corp",
        lambda c: c.oauth.getuserdetail("UT"),
        "POST",
        f"{WECOM}/cgi-bin/auth/getuserdetail",
        body={"user_ticket": "UT"},
        response={**OK, "userid": "zhangsan", "gender": "1", "avatar": "http://a"},
        expected={"userid": "zhangsan", "gender": "1", "avatar": "http://a"},
    ),
}

SUITE_CASES = {
    "service.get_pre_auth_code": Case(
        "suite",
        lambda c: c.service.get_pre_auth_code(),
        "GET",
        f"{WECOM}/cgi-bin/service/get_pre_auth_code",
        response={**OK, "pre_auth_code": "PRE", "expires_in": 1200},
        expected={"pre_auth_code": "PRE", "expires_in": 1200},
    ),
    "service.set_session_info": Case(
        "suite",
        lambda c: c.service.set_session_info("PRE", [1, 2], auth_type=1),
        "POST",
        f"{WECOM}/cgi-bin/service/set_session_info",
        body={"pre_auth_code": "PRE", "session_info": {"auth_type": 1, "appid": [1, 2]}},
        response=OK,
        expected=None,
    ),
    "service.get_permanent_code v1": Case(
        "suite",
        lambda c: c.service.get_permanent_code("AUTHCODE"),
        "POST",
        f"{WECOM}/cgi-bin/service/get_permanent_code",
        body={"auth_code": "AUTHCODE"},
        response={**OK, "permanent_code": "P", "auth_corp_info": {"corpid": "wwc"}},
        expected={"permanent_code": "P", "auth_corp_info": {"corpid": "wwc"}},
    ),
    "service.get_permanent_code v2": Case(
        "suite",
        lambda c: c.service.get_permanent_code("AUTHCODE", version=2),
        "POST",
        f"{WECOM}/cgi-bin/service/v2/get_permanent_code",
        body={"auth_code": "AUTHCODE"},
        response={**OK, "permanent_code": "P", "auth_corp_info": {"corpid": "wwc", "corp_name": "甲"}},
        expected={"permanent_code": "P", "auth_corp_info": {"corpid": "wwc", "corp_name": "甲"}},
    ),
    "service.get_auth_info v1": Case(
        "suite",
        lambda c: c.service.get_auth_info("wwc", "P"),
        "POST",
        f"{WECOM}/cgi-bin/service/get_auth_info",
        body={"auth_corpid": "wwc", "permanent_code": "P"},
        response={**OK, "auth_info": {"agent": [{"agentid": 7}]}},
        expected={"auth_info": {"agent": [{"agentid": 7}]}},
    ),
    "service.get_auth_info v2": Case(
        "suite",
        lambda c: c.service.get_auth_info("wwc", "P", version=2),
        "POST",
        f"{WECOM}/cgi-bin/service/v2/get_auth_info",
        body={"auth_corpid": "wwc", "permanent_code": "P"},
        response={**OK, "auth_info": {"agent": [{"agentid": 8}]}},
        expected={"auth_info": {"agent": [{"agentid": 8}]}},
    ),
    "service.get_corp_token": Case(
        "suite",
        lambda c: c.service.get_corp_token("wwc", "P"),
        "POST",
        f"{WECOM}/cgi-bin/service/get_corp_token",
        body={"auth_corpid": "wwc", "permanent_code": "P"},
        response={**OK, "access_token": "CT", "expires_in": 7200},
        expected={"access_token": "CT", "expires_in": 7200},
    ),
    "service.getuserinfo3rd": Case(
        "suite",
        lambda c: c.service.getuserinfo3rd("CODE3"),
        "GET",
        f"{WECOM}/cgi-bin/service/auth/getuserinfo3rd",
        params={"code": "CODE3"},
        response={**OK, "corpid": "wwc", "userid": "u", "open_userid": "wo1"},
        expected={"corpid": "wwc", "userid": "u", "open_userid": "wo1"},
    ),
    "service.getuserdetail3rd": Case(
        "suite",
        lambda c: c.service.getuserdetail3rd("UT3"),
        "POST",
        f"{WECOM}/cgi-bin/service/auth/getuserdetail3rd",
        body={"user_ticket": "UT3"},
        response={**OK, "corpid": "wwc", "userid": "u", "gender": "2"},
        expected={"corpid": "wwc", "userid": "u", "gender": "2"},
    ),
}

PROVIDER_CASES = {
    "service.get_login_info": Case(
        "provider",
        lambda c: c.service.get_login_info("LOGINCODE"),
        "POST",
        f"{WECOM}/cgi-bin/service/get_login_info",
        body={"auth_code": "LOGINCODE"},
        response={**OK, "usertype": 1, "user_info": {"userid": "admin"}},
        expected={"usertype": 1, "user_info": {"userid": "admin"}},
    ),
}

# How each client kind obtains its token and names it on the wire.
TOKEN_SETUP = {
    "corp": ("access_token", "CORP_TOKEN"),
    "proxy_corp": ("access_token", "PROXY_TOKEN"),
    "suite": ("suite_access_token", "SUITE_TOKEN"),
    "provider": ("access_token", "PROVIDER_TOKEN"),  # get_login_info names it access_token
}


def expect_token(httpx_mock: HTTPXMock, kind: str, ids: SimpleNamespace) -> None:
    """Register the token request the client kind must make first."""
    if kind == "corp":
        httpx_mock.add_response(
            method="GET",
            url=f"{WECOM}/cgi-bin/gettoken",
            match_params={"corpid": ids.CORP_ID, "corpsecret": ids.CORP_SECRET},
            json={**OK, "access_token": "CORP_TOKEN", "expires_in": 7200},
        )
    elif kind == "proxy_corp":
        # 代开发: gettoken with the authorised corp id and the permanent code as the secret.
        httpx_mock.add_response(
            method="GET",
            url=f"{WECOM}/cgi-bin/gettoken",
            match_params={"corpid": ids.AUTH_CORP_ID, "corpsecret": ids.PERMANENT_CODE},
            json={**OK, "access_token": "PROXY_TOKEN", "expires_in": 7200},
        )
    elif kind == "suite":
        httpx_mock.add_response(
            method="POST",
            url=f"{WECOM}/cgi-bin/service/get_suite_token",
            match_json={
                "suite_id": ids.SUITE_ID,
                "suite_secret": ids.SUITE_SECRET,
                "suite_ticket": ids.SUITE_TICKET,
            },
            json={"suite_access_token": "SUITE_TOKEN", "expires_in": 7200},  # no errcode on success
        )
    elif kind == "provider":
        httpx_mock.add_response(
            method="POST",
            url=f"{WECOM}/cgi-bin/service/get_provider_token",
            match_json={"corpid": ids.PROVIDER_CORP_ID, "provider_secret": ids.PROVIDER_SECRET},
            json={"provider_access_token": "PROVIDER_TOKEN", "expires_in": 7200},
        )


ALL_CASES = {**CORP_CASES, **SUITE_CASES, **PROVIDER_CASES}


@pytest.mark.parametrize("name", sorted(ALL_CASES))
def test_endpoint_request_shape_and_response(
    name: str, request: pytest.FixtureRequest, httpx_mock: HTTPXMock, ids: SimpleNamespace
) -> None:
    case = ALL_CASES[name]
    client = request.getfixturevalue(case.client)
    expect_token(httpx_mock, case.client, ids)
    token_name, token = TOKEN_SETUP[case.client]
    httpx_mock.add_response(
        method=case.method,
        url=case.url,
        match_params={**case.params, token_name: token},
        match_json=case.body,
        json=case.response,
    )
    assert case.call(client) == case.expected
    sent = httpx_mock.get_requests()[-1]
    if case.method == "POST":
        assert sent.headers["content-type"] == "application/json"


@pytest.mark.parametrize("name", sorted(CORP_CASES))
def test_proxy_corp_uses_the_same_endpoints_with_its_own_token(
    name: str, proxy_corp: CorpClient, httpx_mock: HTTPXMock, ids: SimpleNamespace
) -> None:
    case = CORP_CASES[name]
    expect_token(httpx_mock, "proxy_corp", ids)
    httpx_mock.add_response(
        method=case.method,
        url=case.url,
        match_params={**case.params, "access_token": "PROXY_TOKEN"},
        match_json=case.body,
        json=case.response,
    )
    assert case.call(proxy_corp) == case.expected


def test_third_party_corp_token_comes_from_get_corp_token(
    suite: SuiteClient, httpx_mock: HTTPXMock, ids: SimpleNamespace
) -> None:
    expect_token(httpx_mock, "suite", ids)
    httpx_mock.add_response(
        method="POST",
        url=f"{WECOM}/cgi-bin/service/get_corp_token",
        match_params={"suite_access_token": "SUITE_TOKEN"},
        match_json={"auth_corpid": "wwthird", "permanent_code": "PERM3"},
        json={**OK, "access_token": "THIRD_TOKEN", "expires_in": 7200},
    )
    httpx_mock.add_response(
        method="GET",
        url=f"{WECOM}/cgi-bin/user/simplelist",
        match_params={"department_id": "1", "access_token": "THIRD_TOKEN"},
        json={**OK, "userlist": [{"open_userid": "wo1"}]},
    )
    with suite.corp_client("wwthird", "PERM3", agent_id=9) as third:
        assert third.user.simplelist(1) == [{"open_userid": "wo1"}]
        assert "PERM3" not in repr(third)


def test_raw_token_endpoints_bypass_the_cache(
    suite: SuiteClient, provider: ProviderClient, httpx_mock: HTTPXMock, ids: SimpleNamespace
) -> None:
    expect_token(httpx_mock, "suite", ids)
    expect_token(httpx_mock, "provider", ids)
    assert suite.service.get_suite_token() == {"suite_access_token": "SUITE_TOKEN", "expires_in": 7200}
    assert provider.service.get_provider_token() == {
        "provider_access_token": "PROVIDER_TOKEN",
        "expires_in": 7200,
    }


def test_wechat_sns_endpoints(wechat: WeChatClient, httpx_mock: HTTPXMock, ids: SimpleNamespace) -> None:
    httpx_mock.add_response(
        method="GET",
        url=f"{WECHAT}/sns/oauth2/access_token",
        match_params={
            "appid": ids.APP_ID,
            "secret": ids.APP_SECRET,
            "code": "WXCODE",
            "grant_type": "authorization_code",
        },
        json={
            "access_token": "UAT",
            "expires_in": 7200,
            "refresh_token": "URT",
            "openid": "o1",
            "scope": "snsapi_login",
        },
    )
    httpx_mock.add_response(
        method="GET",
        url=f"{WECHAT}/sns/oauth2/refresh_token",
        match_params={"appid": ids.APP_ID, "grant_type": "refresh_token", "refresh_token": "URT"},
        json={"access_token": "UAT2", "expires_in": 7200, "refresh_token": "URT", "openid": "o1"},
    )
    httpx_mock.add_response(
        method="GET",
        url=f"{WECHAT}/sns/userinfo",
        match_params={"access_token": "UAT2", "openid": "o1", "lang": "en"},
        json={"openid": "o1", "nickname": "小明", "unionid": "u1"},
    )
    httpx_mock.add_response(
        method="GET",
        url=f"{WECHAT}/sns/auth",
        match_params={"access_token": "UAT2", "openid": "o1"},
        json={"errcode": 0, "errmsg": "ok"},
    )
    httpx_mock.add_response(
        method="GET",
        url=f"{WECHAT}/sns/auth",
        match_params={"access_token": "OLD", "openid": "o1"},
        json={"errcode": 42001, "errmsg": "access_token expired"},
    )
    httpx_mock.add_response(
        method="GET",
        url=f"{WECHAT}/sns/auth",
        match_params={"access_token": "UAT2", "openid": "bad"},
        json={"errcode": 40003, "errmsg": "invalid openid"},
    )
    assert wechat.sns.oauth2_access_token("WXCODE")["refresh_token"] == "URT"
    assert wechat.sns.oauth2_refresh_token("URT")["access_token"] == "UAT2"
    assert wechat.sns.userinfo("UAT2", "o1", lang="en") == {"openid": "o1", "nickname": "小明", "unionid": "u1"}
    assert wechat.sns.auth("UAT2", "o1") is True
    assert wechat.sns.auth("OLD", "o1") is False
    assert wechat.sns.auth("UAT2", "bad") is False
    with pytest.raises(ValueError, match="lang"):
        wechat.sns.userinfo("UAT2", "o1", lang="fr")


def test_wechat_app_token_uses_client_credential(
    wechat: WeChatClient, httpx_mock: HTTPXMock, ids: SimpleNamespace
) -> None:
    httpx_mock.add_response(
        method="GET",
        url=f"{WECHAT}/cgi-bin/token",
        match_params={"grant_type": "client_credential", "appid": ids.APP_ID, "secret": ids.APP_SECRET},
        json={"access_token": "APPTOKEN", "expires_in": 7200},
    )
    assert wechat.access_token() == "APPTOKEN"
    assert wechat.access_token() == "APPTOKEN"  # cached: the mock would reject a second request


def test_base_url_and_transport_are_pluggable(ids: SimpleNamespace) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url.copy_with(query=None)))
        if request.url.path.endswith("/gettoken"):
            return httpx.Response(200, json={**OK, "access_token": "T", "expires_in": 7200})
        return httpx.Response(200, json={**OK, "department_id": []})

    with CorpClient(
        ids.CORP_ID,
        ids.CORP_SECRET,
        base_url="http://sandbox.local/wecom",
        transport=httpx.MockTransport(handler),
        tokens=TokenManager(LocalTokenCache()),
    ) as client:
        assert client.department.simplelist() == []
    assert seen == [
        "http://sandbox.local/wecom/cgi-bin/gettoken",
        "http://sandbox.local/wecom/cgi-bin/department/simplelist",
    ]


def test_namespaces_are_bound_once_per_client(corp: CorpClient, tokens: TokenManager) -> None:
    assert corp.department is corp.department
    other = CorpClient("ww-other", "other-secret-123", tokens=tokens)
    assert other.department is not corp.department
    assert type(CorpClient.department).__name__ == "api_namespace"
    other.close()


def test_argument_validation(corp: CorpClient, suite: SuiteClient) -> None:
    with pytest.raises(ValueError, match="limit"):
        corp.user.list_id(limit=10001)
    with pytest.raises(ValueError, match="limit"):
        corp.user.list_id(limit=0)
    with pytest.raises(ValueError, match="version"):
        suite.service.get_permanent_code("x", version=3)
    with pytest.raises(ValueError, match="auth_type"):
        suite.service.set_session_info("PRE", auth_type=2)


# -- response handling ------------------------------------------------------------------------


def _client_with(handler: Callable[[httpx.Request], httpx.Response], ids: SimpleNamespace) -> CorpClient:
    return CorpClient(
        ids.CORP_ID,
        ids.CORP_SECRET,
        transport=httpx.MockTransport(handler),
        tokens=TokenManager(LocalTokenCache(), sleep=lambda _: None),
    )


@pytest.mark.parametrize(
    ("response", "match"),
    [
        (httpx.Response(404, text="not found"), "unexpected HTTP 404"),
        (httpx.Response(200, text="<html>oops</html>"), "not JSON"),
        (httpx.Response(200, json=[1, 2]), "expected a JSON object"),
        (httpx.Response(200, json={"errcode": "x1", "errmsg": "?"}), "not an integer"),
        (httpx.Response(200, json={**OK, "expires_in": 7200}), "no access_token"),
        (httpx.Response(200, json={**OK, "access_token": "T", "expires_in": "soon"}), "not a number"),
        (httpx.Response(200, json={**OK, "access_token": "T", "expires_in": 0}), "not positive"),
    ],
)
def test_malformed_responses_raise_transport_error(
    response: httpx.Response, match: str, ids: SimpleNamespace, assert_no_secrets: Callable[..., None]
) -> None:
    with _client_with(lambda request: response, ids) as client, pytest.raises(TransportError, match=match) as info:
        client.access_token()
    assert_no_secrets(str(info.value), repr(info.value))


def test_http_errors_are_mapped_at_the_edge_with_the_cause_chained(
    ids: SimpleNamespace, assert_no_secrets: Callable[..., None]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    with _client_with(handler, ids) as client, pytest.raises(TransportError) as info:
        client.department.simplelist()
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert "ConnectError" in str(info.value)
    assert "corpsecret=***" in str(info.value)
    assert_no_secrets(str(info.value), repr(info.value))


def test_http_5xx_is_upstream_busy(ids: SimpleNamespace) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(503, text="busy")

    with _client_with(handler, ids) as client, pytest.raises(UpstreamBusyError) as info:
        client.access_token()
    assert info.value.status_code == 503
    assert len(calls) == 3  # retried, bounded
