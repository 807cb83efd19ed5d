"""Several instances of one suite (the seed's QywxProxyCompanyA / …B / …Default layout) on the sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import jitlite
from jitlite import CorpNotAuthorized
from jitlite.sandbox.defaults import DEFAULT_CORP_ID, DEFAULT_SUITE_ID
from jitlite.sandbox.orgdata import Corp as SandboxCorp
from jitlite.sandbox.orgdata import Department, Member
from jitlite.sandbox.testing import Sandbox

from .conftest import PROXY, service

CORP_A = DEFAULT_CORP_ID
CORP_B = "wwsandboxcorp0002"
CORP_C = "wwsandboxcorp0003"
NEVER = "wwsandboxcorp0009"


def add_corp(sandbox: Sandbox, corp_id: str, name: str) -> None:
    corp = SandboxCorp(corp_id, name)
    corp.add_department(Department(1, name, 0, 1))
    corp.add_member(Member("lina", f"李娜({name})", [1], mobile="13900000001"))
    sandbox.state.add_corp(corp)


def add_instance(root: Path, name: str, corp_id: str | None) -> None:
    """Write a login element of the demo's suite, scoped to ``corp_id`` (or to none)."""
    folder = root / "auths" / name
    folder.mkdir(parents=True)
    (folder / "e.json").write_text(json.dumps({"title": name, "type": "auths.loginTypes.QywxProxyType"}))
    config: dict[str, object] = {"authConfig": {
        "suiteId": "{{qywxSuiteId}}", "suiteSecret": "{{qywxSuiteSecret}}",
        "encodingAESKey": "{{qywxEncodingAESKey}}", "token": "{{qywxCallbackToken}}"}, "isActive": True}
    if corp_id:
        config["corpId"] = corp_id
    (folder / f"{name}.json").write_text(json.dumps(config))


@pytest.fixture
def enterprises(open_demo: Callable[[], jitlite.App], sandbox: Sandbox, tmp_path: Path) -> jitlite.App:
    """The demo app (QywxProxyTemp serves corp A) plus QywxProxyCompanyB (corp B) and QywxProxyDefault."""
    root = tmp_path / "demo"
    add_instance(root, "QywxProxyCompanyB", CORP_B)
    add_instance(root, "QywxProxyDefault", None)
    add_corp(sandbox, CORP_B, "乙公司")
    add_corp(sandbox, CORP_C, "丙公司")
    app = open_demo()
    sandbox.state.push_suite_ticket(DEFAULT_SUITE_ID)
    for corp in (CORP_A, CORP_B, CORP_C):
        sandbox.authorize(DEFAULT_SUITE_ID, corp)
    assert service(app).waitIdle(10)
    return app


def test_workbench_login_picks_the_instance_of_the_corp(enterprises: jitlite.App, sandbox: Sandbox) -> None:
    auth_service = service(enterprises)
    for corp in (CORP_A, CORP_B, CORP_C):
        code = sandbox.state.issue_corp_code(corp, "lina", suite_id=DEFAULT_SUITE_ID)
        # As the seed writes it: no authFullName, one suite shared by three login elements.
        result = auth_service.loginByWorkbench(corpId=corp, code=code)
        assert result["wecomUserId"] == "lina" and result["token"]
    assert auth_service._instance_for_corp(CORP_A, None).fullName == PROXY
    assert auth_service._instance_for_corp(CORP_B, None).fullName == "auths.QywxProxyCompanyB"
    assert auth_service._instance_for_corp(CORP_C, None).fullName == "auths.QywxProxyDefault"


def test_set_code_as_the_seed_writes_it(enterprises: jitlite.App) -> None:
    auth_service = service(enterprises)
    auth_service.setCode(corpId=CORP_B, code="org_code_b")
    config = auth_service.getLoginConfigByCode("org_code_b")
    assert config["corpId"] == CORP_B and config["authFullName"] == "auths.QywxProxyCompanyB"


def test_an_instance_corp_id_scopes_its_logins(enterprises: jitlite.App, sandbox: Sandbox) -> None:
    company_b = enterprises.getElement("auths.QywxProxyCompanyB")
    code = sandbox.state.issue_corp_code(CORP_A, "lina", suite_id=DEFAULT_SUITE_ID)
    with pytest.raises(CorpNotAuthorized, match="logs in members of corp wwsandboxcorp0002 only"):
        company_b.getLoginCode(corpId=CORP_A, code=code)
    # The code was not spent: the right element still accepts it.
    assert enterprises.getElement(PROXY).getLoginCode(corpId=CORP_A, code=code)["loginCode"]
    with pytest.raises(CorpNotAuthorized, match="only"):
        service(enterprises).loginByWorkbench(corpId=CORP_C, code="x", authFullName="auths.QywxProxyCompanyB")


def test_a_corp_that_never_authorised_is_told_so(enterprises: jitlite.App) -> None:
    with pytest.raises(CorpNotAuthorized, match="has not authorised any suite of this app"):
        service(enterprises).loginByWorkbench(corpId=NEVER, code="whatever")
    with pytest.raises(CorpNotAuthorized, match="has not authorised"):
        service(enterprises).setCode(corpId=NEVER, code="org_never")
