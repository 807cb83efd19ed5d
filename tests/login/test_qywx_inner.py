"""auths.loginTypes.QywxInnerType end to end on the sandbox: config, QR page, code, login code, session."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

import jitlite
from jitlite import LoginInactive, LoginStateInvalid
from jitlite.meta.auths import NotACorpMember
from jitlite.runtime import clock
from jitlite.runtime.errcode import Code
from jitlite.sandbox.defaults import DEFAULT_AGENT_ID, DEFAULT_AGENT_SECRET
from jitlite.sandbox.server import SandboxServer
from jitlite.sandbox.testing import Sandbox
from jitlite.storage import Q
from jitlite.wecom import ConfigurationError, LoginRestartRequired, TokenExpiredError, TransportError

from .conftest import AUTH_SERVICE, CORP, INNER, scan

SEED_FIELDS = {"userId", "name", "mobile", "email", "avatar", "department", "position", "gender", "status",
               "isLeader"}


def member_code(sandbox: Sandbox, userid: str) -> str:
    """Return a code as the self-built app's QR login gives it (the member must be in its visible range)."""
    return sandbox.state.issue_corp_code(CORP, userid, agent_id=DEFAULT_AGENT_ID)


def test_qr_login_from_config_to_session(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = demo.getElement(INNER)
    config = login.getLoginConfig()
    assert set(config) == {"corpId", "agentId", "redirectUri", "state", "loginUrl"}
    assert (config["corpId"], config["agentId"]) == (CORP, str(DEFAULT_AGENT_ID))
    assert DEFAULT_AGENT_SECRET not in str(config) and login.getLoginConfig()["state"] != config["state"]
    back = scan(sandbox, config["loginUrl"], userid="lina")  # the page redirects to the configured redirectUri
    assert back["state"] == config["state"]

    result = login.getLoginCode(authCode=back["code"], state=back["state"])
    assert set(result) == SEED_FIELDS | {"loginCode", "corpList", "sysUserId"}
    assert (result["userId"], result["name"], result["department"], result["position"]) == \
        ("lina", "李娜", [4], "后端组长")
    assert (result["gender"], result["status"], result["isLeader"], result["mobile"]) == ("2", 1, True, "13800000003")
    assert result["corpList"] == [{"corpId": CORP, "corpName": "沙盒科技"}]

    auth = demo.getElement(AUTH_SERVICE)
    session = auth.exchangeLoginCode(result["loginCode"], CORP, "web")
    assert session["userId"] == result["sysUserId"] and auth.getSession(session["token"])["corpId"] == CORP
    row = login.authModel.get(Q(corpId=CORP, userId="lina"))
    assert (row.sysUserId, row.name, row.department, row.isLeader) == (result["sysUserId"], "李娜", [4], True)

    # The member again (from the workbench, with a user_ticket): the same system user, one row each.
    ticket_code = sandbox.state.issue_corp_code(CORP, "lina", agent_id=DEFAULT_AGENT_ID, with_ticket=True)
    again = login.getLoginCode(authCode=ticket_code)
    assert again["sysUserId"] == result["sysUserId"] and auth.users.query()["totalCount"] == 1
    stored = login.authModel.get(Q(corpId=CORP, userId="lina"))
    assert stored.accessToken and stored.expiresAt is not None  # the user_ticket, kept encrypted
    assert login.authModel.query(Q(corpId=CORP))["totalCount"] == 1


def test_seed_usage_examples_run_as_written(demo: jitlite.App, sandbox: Sandbox,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    app = demo
    # Usage Example
    qywx_auth = app.getElement("auths.loginTypes.QywxInnerExample")
    login_config = qywx_auth.getLoginConfig()
    auth_code = member_code(sandbox, "wangfang")
    user_info = qywx_auth.getLoginCode(authCode=auth_code)
    assert login_config["corpId"] == CORP and user_info["name"] == "王芳"
    # getLoginConfig
    config = qywx_auth.getLoginConfig()
    print(f"Enterprise ID: {config['corpId']}")
    print(f"Application ID: {config['agentId']}")
    # getLoginCode
    try:
        user_info = qywx_auth.getLoginCode(authCode=member_code(sandbox, "chenjie"))
        print(f"User login successful: {user_info['name']}")
        print(f"User department: {user_info['department']}")
    except Exception as e:
        print(f"Login failed: {e}")
    # getUserInfo, getAccessToken
    user_detail = qywx_auth.getUserInfo(userId="zhangwei")
    access_token = qywx_auth.getAccessToken()
    out = capsys.readouterr().out
    assert f"Enterprise ID: {CORP}\nApplication ID: {DEFAULT_AGENT_ID}\n" in out
    assert "User login successful: 陈杰\nUser department: [4, 5]\n" in out
    assert user_detail["name"] == "张伟" and user_detail["isLeader"] is True and user_detail["department"] == [1]
    assert isinstance(access_token, str) and access_token == qywx_auth.getAccessToken()


def seed_error_handling(qywx_auth: Any, auth_code: str) -> Any:
    """The seed's error-handling example, as written."""
    try:
        user_info = qywx_auth.getLoginCode(authCode=auth_code)
    except Exception as e:
        if "40013" in str(e):
            raise Code(40013, "Enterprise ID is incorrect, please check configuration") from e
        elif "40029" in str(e):
            raise Code(40029, "Authorization code is invalid or expired") from e
        else:
            raise Code(50000, f"Login failed: {str(e)}") from e  # noqa: RUF010 - the seed's words
    return user_info


def test_error_handling_example_for_a_spent_code(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = demo.getElement(INNER)
    code = member_code(sandbox, "lina")
    assert seed_error_handling(login, code)["userId"] == "lina"
    with pytest.raises(LoginRestartRequired) as raw:  # the same code again: WeCom answers 40029
        login.getLoginCode(authCode=code)
    assert isinstance(raw.value, Code) and raw.value.code == 40029 and "40029" in str(raw.value)
    with pytest.raises(Code) as mapped:
        seed_error_handling(login, code)
    assert (mapped.value.code, mapped.value.reason) == (40029, "Authorization code is invalid or expired")


def test_error_handling_example_for_a_wrong_corp_id(open_demo: Callable[..., jitlite.App],
                                                    sandbox: Sandbox) -> None:
    app = open_demo({"jitlite.toml": '[variables]\nqywxInnerCorpId = "wwnosuchcorp"\n'})
    login = app.getElement(INNER)
    with pytest.raises(ConfigurationError) as raw:
        login.getLoginCode(authCode="any-code")
    assert raw.value.code == 40013 and "CorpID" in str(raw.value)
    with pytest.raises(Code) as mapped:
        seed_error_handling(login, "any-code")
    assert (mapped.value.code, mapped.value.reason) == (40013, "Enterprise ID is incorrect, please check configuration")


def test_untrusted_ip_60020_is_a_configuration_error(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = demo.getElement(INNER)
    sandbox.state.add_fault("/cgi-bin/auth/getuserinfo", errcode=60020)
    with pytest.raises(ConfigurationError, match="trusted IP") as raw:
        login.getLoginCode(authCode=member_code(sandbox, "lina"))
    assert raw.value.code == 60020
    with pytest.raises(Code) as mapped:
        seed_error_handling(login, member_code(sandbox, "lina"))
    assert mapped.value.code == 50000 and "60020" in mapped.value.reason
    assert len(sandbox.state.request_log("/cgi-bin/auth/getuserinfo")) == 2  # a config error is not retried


@pytest.mark.parametrize("errcode", [40014, 42001])
def test_a_rejected_token_is_refreshed_and_the_call_retried_once(demo: jitlite.App, sandbox: Sandbox,
                                                                 errcode: int) -> None:
    login = demo.getElement(INNER)
    login.getAccessToken()
    sandbox.state.add_fault("/cgi-bin/auth/getuserinfo", errcode=errcode, times=1)
    assert login.getLoginCode(authCode=member_code(sandbox, "lina"))["userId"] == "lina"
    assert len(sandbox.state.request_log("/cgi-bin/gettoken")) == 2  # invalidated and fetched again
    login.getAccessToken()
    assert len(sandbox.state.request_log("/cgi-bin/gettoken")) == 2  # and cached again
    # Rejected again after the refresh: no loop, the error is raised with its errcode.
    sandbox.state.add_fault("/cgi-bin/auth/getuserinfo", errcode=errcode, times=2)
    with pytest.raises(TokenExpiredError) as raised:
        login.getLoginCode(authCode=member_code(sandbox, "lina"))
    assert raised.value.code == errcode and str(errcode) in str(raised.value)
    assert len(sandbox.state.request_log("/cgi-bin/gettoken")) == 3


def test_a_revoked_token_is_replaced_transparently(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = demo.getElement(INNER)
    token = login.getAccessToken()
    sandbox.state.revoke_tokens("corp", CORP)
    assert login.getUserInfo("lina")["name"] == "李娜"
    assert login.getAccessToken() != token


def test_the_access_token_is_fetched_once_for_many_threads(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = demo.getElement(INNER)
    tokens: list[str] = []
    barrier = threading.Barrier(8)

    def fetch() -> None:
        barrier.wait()
        tokens.append(login.getAccessToken())

    threads = [threading.Thread(target=fetch) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert len(tokens) == 8 and len(set(tokens)) == 1
    assert len(sandbox.state.request_log("/cgi-bin/gettoken")) == 1


def test_state_must_be_issued_here_unused_and_fresh(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = demo.getElement(INNER)
    code = member_code(sandbox, "lina")
    with pytest.raises(LoginStateInvalid):  # forged
        login.getLoginCode(authCode=code, state="f" * 48)
    with pytest.raises(LoginStateInvalid):  # issued by another login element
        login.getLoginCode(authCode=code, state=demo.getElement("auths.QywxProxyTemp").createState(CORP))
    state = login.getLoginConfig()["state"]
    assert login.getLoginCode(authCode=code, state=state)["userId"] == "lina"  # a refused state spent no code
    with pytest.raises(LoginStateInvalid):  # replayed
        login.getLoginCode(authCode=member_code(sandbox, "lina"), state=state)
    stale = login.getLoginConfig()["state"]
    later = clock.now() + 601
    with clock.use_clock(lambda: later), pytest.raises(LoginStateInvalid):  # expired
        login.getLoginCode(authCode=member_code(sandbox, "lina"), state=stale)


def test_a_non_member_is_refused(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = demo.getElement(INNER)
    back = scan(sandbox, login.getLoginConfig()["loginUrl"], guest="a visitor")
    with pytest.raises(NotACorpMember, match=f"not a member of corp {CORP}"):
        login.getLoginCode(authCode=back["code"], state=back["state"])
    assert demo.getElement(AUTH_SERVICE).users.query()["totalCount"] == 0


def test_an_inactive_element_refuses(demo: jitlite.App, sandbox: Sandbox) -> None:
    login = demo.getElement(INNER)
    login.config = login.config.model_copy(update={"isActive": False})
    with pytest.raises(LoginInactive, match="QywxInnerExample is disabled"):
        login.getLoginCode(authCode=member_code(sandbox, "lina"))
    with pytest.raises(LoginInactive):
        login.getAccessToken()


def test_a_network_timeout_is_a_transport_error(open_demo: Callable[..., jitlite.App], sandbox: Sandbox) -> None:
    with SandboxServer(sandbox.state) as server:
        app = open_demo({"jitlite.toml": (f'[settings]\nwecomBaseUrl = "{server.url}"\n'
                                          f'wecomLoginBaseUrl = "{server.url}"\nhttpTimeout = 0.3\n')},
                        connect=False)
        login = app.getElement(INNER)
        assert login.getAccessToken()  # over loopback, in time
        sandbox.state.add_fault("/cgi-bin/auth/getuserinfo", latency=1.0, times=1)
        with pytest.raises(TransportError, match="ReadTimeout"):
            login.getLoginCode(authCode=member_code(sandbox, "lina"))
        sandbox.state.clear_faults()
        assert login.getLoginCode(authCode=member_code(sandbox, "lina"))["userId"] == "lina"
