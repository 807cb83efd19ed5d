"""jitlite callbacks: list the callback records, filter and print them as JSON, retry one."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import jitlite
from jitlite.cli import main
from jitlite.runtime import clock
from jitlite.storage import Q

from ..conftest import DEMO_APP

SERVICE = "auths.loginTypes.QywxProxyType.services.QywxProxyAuthService"


def _ticket_xml(ticket: str | None) -> str:
    inner = f"<SuiteTicket><![CDATA[{ticket}]]></SuiteTicket>" if ticket else ""
    return ("<xml><SuiteId><![CDATA[tjsandboxsuite0001]]></SuiteId><InfoType><![CDATA[suite_ticket]]></InfoType>"
            f"<TimeStamp>1700000000</TimeStamp>{inner}</xml>")


@pytest.fixture
def app_with_records(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    """A copy of the demo app holding a failed, a broken, a leased and a done callback record."""
    root = tmp_path / "app"
    shutil.copytree(DEMO_APP, root, ignore=shutil.ignore_patterns("appData", "jitlite.toml"))
    ids: dict[str, int] = {}
    with jitlite.App(root, environ={}) as app:
        records = app.getElement(SERVICE).records
        base = {"authFullName": "auths.QywxProxyTemp", "suiteId": "tjsandboxsuite0001", "infoType": "suite_ticket"}
        ids["failed"] = records.create({**base, "payloadHash": "a" * 64, "payload": _ticket_xml("ticket-1"),
                                        "status": "failed", "attempts": 3,
                                        "lastError": "OperationalError: database is locked\n  SQL: UPDATE …"}).id
        ids["broken"] = records.create({**base, "payloadHash": "b" * 64, "payload": _ticket_xml(None),
                                        "status": "failed", "attempts": 1, "lastError": "KeyError: 'SuiteTicket'"}).id
        ids["leased"] = records.create({**base, "payloadHash": "c" * 64, "payload": _ticket_xml("ticket-2"),
                                        "status": "processing", "attempts": 1, "leaseOwner": "otherhost:1:1:1",
                                        "leaseExpiresAt": clock.utc_now() + timedelta(minutes=10)}).id
        ids["done"] = records.create({**base, "payloadHash": "d" * 64, "payload": _ticket_xml("ticket-0"),
                                      "status": "done", "attempts": 1, "corpId": "wwsandboxcorp0001",
                                      "note": "suite_ticket stored"}).id
    return root, ids


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_list_all_and_by_status(app_with_records: tuple[Path, dict[str, int]]) -> None:
    root, ids = app_with_records
    code, out, _ = _run("callbacks", "--json", "--app", str(root))
    assert code == 0
    rows = json.loads(out)
    assert [r["id"] for r in rows] == sorted(ids.values(), reverse=True)  # newest first
    failed = next(r for r in rows if r["id"] == ids["failed"])
    assert failed == {**failed, "element": "auths.QywxProxyTemp", "infoType": "suite_ticket", "status": "failed",
                      "attempts": 3, "lastError": "OperationalError: database is locked", "service": SERVICE}
    assert failed["received"]
    code, out, _ = _run("callbacks", "--status", "failed", "--json", "--app", str(root))
    assert {r["id"] for r in json.loads(out)} == {ids["failed"], ids["broken"]}
    code, out, _ = _run("callbacks", "--status", "failed", "--app", str(root))
    assert code == 0 and "database is locked" in out and "SQL" not in out
    code, out, _ = _run("callbacks", "--status", "pending", "--app", str(root))
    assert code == 0 and "No pending callback records." in out


def test_listing_processes_nothing(app_with_records: tuple[Path, dict[str, int]]) -> None:
    root, _ = app_with_records
    with jitlite.App(root, environ={}) as app:  # a callback stored and not yet run (its web worker died)
        model = app.getElement("auths.loginTypes.QywxProxyType.QywxProxyCallbackModel")
        pending = model.create({"authFullName": "auths.QywxProxyTemp", "suiteId": "tjsandboxsuite0001",
                                "infoType": "suite_ticket", "payloadHash": "e" * 64,
                                "payload": _ticket_xml("ticket-3"), "status": "pending", "attempts": 0}).id
    code, out, _ = _run("callbacks", "--status", "pending", "--json", "--app", str(root))
    assert code == 0 and [(r["id"], r["status"], r["attempts"]) for r in json.loads(out)] == [(pending, "pending", 0)]
    with jitlite.App(root, environ={}) as app:  # still pending afterwards: listing started no service
        row = app.getElement("auths.loginTypes.QywxProxyType.QywxProxyCallbackModel").get(Q(id=pending))
        assert (row.status, row.attempts) == ("pending", 0)


def test_list_refuses_an_unknown_status(app_with_records: tuple[Path, dict[str, int]]) -> None:
    root, _ = app_with_records
    result = CliRunner().invoke(main, ["callbacks", "--status", "broken", "--app", str(root)])
    assert result.exit_code == 2 and "pending" in result.output


def test_retry_processes_a_failed_record(app_with_records: tuple[Path, dict[str, int]]) -> None:
    root, ids = app_with_records
    code, out, err = _run("callbacks", "--app", str(root), "retry", str(ids["failed"]))
    assert code == 0, err
    assert f"record {ids['failed']} (suite_ticket): done after 4 attempt(s) — suite_ticket stored" in out
    with jitlite.App(root, environ={}) as app:
        latest = app.getElement("auths.QywxProxyTemp").context.tickets.latest("tjsandboxsuite0001")
        assert latest is not None and latest[0] == "ticket-1"


def test_retry_that_fails_again_says_why(app_with_records: tuple[Path, dict[str, int]]) -> None:
    root, ids = app_with_records
    code, out, _ = _run("callbacks", "--json", "--app", str(root), "retry", str(ids["broken"]))
    assert code == 1
    row = json.loads(out)
    assert row["status"] == "failed" and row["attempts"] == 2 and "SuiteTicket" in row["lastError"]


def test_retry_errors(app_with_records: tuple[Path, dict[str, int]]) -> None:
    root, ids = app_with_records
    code, _, err = _run("callbacks", "--app", str(root), "retry", str(ids["leased"]))
    assert code == 1 and "under a lease that expires at" in err and "otherhost:1:1:1" in err
    code, out, _ = _run("callbacks", "retry", str(ids["broken"]), "--app", str(root), "--json")
    assert code == 1 and json.loads(out)["id"] == ids["broken"]  # the app given after the subcommand
    code, _, err = _run("callbacks", "--app", str(root), "retry", "999")
    assert code == 1 and "no callback record 999" in err
    code, _, err = _run("callbacks", "--app", str(root), "retry", str(ids["done"]))
    assert code == 1 and "is done" in err
    code, _, err = _run("callbacks", "--app", str(root), "retry", "--service", "services.Nope", "1")
    assert code == 2 and "no callback service named services.Nope" in err


def test_a_login_type_with_a_callback_service_but_no_record_model_is_named_with_the_fix() -> None:
    from jitlite.meta.auths import LoginType

    with pytest.raises(ValueError, match=r"\.Half names a callbackServiceName but no callbackModelName; set it"):
        class Half(LoginType):  # receives callbacks, but says nothing of where its inbox keeps them
            callbackServiceName = "auths.loginTypes.HalfType.services.HalfService"

    class Whole(LoginType):
        callbackServiceName = "auths.loginTypes.WholeType.services.WholeService"
        callbackModelName = "auths.loginTypes.WholeType.WholeCallbackModel"

    class Child(Whole):  # inherits both
        pass

    assert Child.callbackModelName == "auths.loginTypes.WholeType.WholeCallbackModel"
