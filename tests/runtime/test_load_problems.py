"""Start-up problems from hostile file layouts and misspelt configuration: reported, never a crash or a hang."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

import jitlite
from jitlite import ElementLoadError, Problem
from jitlite.cli import main

from ..conftest import PROXY_CONFIG

PROXY_LOGIN = {"auths/L/e.json": {"title": "L", "type": "auths.loginTypes.QywxProxyType"},
               "auths/L/L.json": PROXY_CONFIG}
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="the platform has no FIFOs")


def problems_of(root: Path, environ: dict[str, str] | None = None) -> list[Problem]:
    with pytest.raises(ElementLoadError) as caught:
        jitlite.App(root, environ={} if environ is None else environ)
    return caught.value.problems


def only_problem(root: Path, environ: dict[str, str] | None = None) -> Problem:
    found = problems_of(root, environ)
    assert len(found) == 1, "\n".join(p.render() for p in found)
    return found[0]


# -- bad file-system layouts (item 14) ----------------------------------------------------------


@needs_fifo
@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", ["auths/L/e.json", "auths/L/L.json"])
def test_a_fifo_as_an_element_file_is_a_problem_not_a_hang(make_app: Callable[..., Path], name: str) -> None:
    root = make_app(PROXY_LOGIN)
    (root / name).unlink()
    os.mkfifo(root / name)
    problem = only_problem(root)
    assert problem.full_name == "auths.L"
    assert problem.path == str(root / name)
    assert problem.message == "is a FIFO (named pipe), not a regular file"


@needs_fifo
@pytest.mark.timeout(20)
@pytest.mark.parametrize("name", ["app.json", "jitlite.toml"])
def test_a_fifo_as_an_app_file_is_a_problem_not_a_hang(make_app: Callable[..., Path], name: str) -> None:
    root = make_app({})
    (root / name).unlink(missing_ok=True)
    os.mkfifo(root / name)
    problem = only_problem(root)
    assert problem.path == str(root / name)
    assert "is a FIFO (named pipe), not a regular file" in problem.message


@pytest.mark.timeout(20)
def test_a_device_file_as_a_business_config_is_refused(make_app: Callable[..., Path]) -> None:
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null here")
    root = make_app(PROXY_LOGIN, settings={"secretKeyFile": "appData/secret.key", "allowExternalSymlinks": True})
    (root / "auths/L/L.json").unlink()
    (root / "auths/L/L.json").symlink_to("/dev/null")
    problem = only_problem(root)
    assert problem.path == str(root / "auths/L/L.json")
    assert problem.message == "is a character device, not a regular file"


def test_a_symlink_loop_as_e_json(make_app: Callable[..., Path]) -> None:
    root = make_app(PROXY_LOGIN)
    (root / "auths/L/e.json").unlink()
    (root / "auths/L/e.json").symlink_to("e.json")
    problem = only_problem(root)
    assert problem.path == str(root / "auths/L/e.json")
    assert "symlink loop" in problem.message


@pytest.mark.timeout(20)
def test_folder_symlink_loops_end_with_a_problem(make_app: Callable[..., Path]) -> None:
    root = make_app(PROXY_LOGIN)
    (root / "auths/L/back").symlink_to("..")  # a folder that contains itself
    (root / "corps/A").mkdir(parents=True)
    (root / "corps/B").mkdir()
    (root / "corps/A/toB").symlink_to("../B")  # two folders leading into each other
    (root / "corps/B/toA").symlink_to("../A")
    (root / "models").symlink_to("models")  # beside app.json: a would-be element folder that is a loop
    found = problems_of(root)
    assert sorted(p.path for p in found) == sorted(
        str(root / link) for link in ("auths/L/back", "corps/A/toB", "corps/B/toA", "models"))
    assert all("a folder loop" in p.message for p in found if not p.path.endswith("models"))


def test_a_symlink_leaving_the_app_folder_is_refused_unless_allowed(
    make_app: Callable[..., Path], tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere" / "Shared"
    outside.mkdir(parents=True)
    (outside / "e.json").write_text(json.dumps(PROXY_LOGIN["auths/L/e.json"]))
    (outside / "Shared.json").write_text(json.dumps(PROXY_CONFIG))
    root = make_app({})
    (root / "auths").mkdir()
    (root / "auths/Shared").symlink_to(outside)
    problem = only_problem(root)
    assert problem.path == str(root / "auths/Shared")
    assert f"outside the app folder {root}" in problem.message
    assert '"allowExternalSymlinks": true' in problem.fix

    allowed = make_app({}, app_id="allowing", settings={"secretKeyFile": "appData/secret.key",
                                                        "allowExternalSymlinks": True})
    (allowed / "auths").mkdir()
    (allowed / "auths/Shared").symlink_to(outside)
    assert jitlite.App(allowed, environ={}).getElement("auths.Shared").suiteId == "tj0001"


def test_a_symlinked_file_leaving_the_app_folder_is_refused(make_app: Callable[..., Path], tmp_path: Path) -> None:
    secret = tmp_path / "not-the-apps.json"
    secret.write_text(json.dumps(PROXY_CONFIG))
    root = make_app(PROXY_LOGIN)
    (root / "auths/L/L.json").unlink()
    (root / "auths/L/L.json").symlink_to(secret)
    problem = only_problem(root)  # one problem: no "business config is missing" besides
    assert problem.path == str(root / "auths/L/L.json")
    assert "outside the app folder" in problem.message
    # A link that stays inside the app folder is followed.
    (root / "shared").mkdir()
    (root / "shared/proxy.json").write_text(json.dumps(PROXY_CONFIG))
    (root / "auths/L/L.json").unlink()
    (root / "auths/L/L.json").symlink_to("../../shared/proxy.json")
    assert jitlite.App(root, environ={}).getElement("auths.L").suiteId == "tj0001"


def test_oversized_files_are_refused_unread(make_app: Callable[..., Path]) -> None:
    big = {"title": "L", "type": "auths.loginTypes.QywxProxyType", "description": "x" * (2 * 1024 * 1024)}
    root = make_app({**PROXY_LOGIN, "auths/L/e.json": big})
    problem = only_problem(root)
    assert problem.path == str(root / "auths/L/e.json")
    assert problem.message == "is 2.0 MiB, more than the 1.0 MiB jitlite reads from one file"

    (root / "auths/L/e.json").write_text(json.dumps(PROXY_LOGIN["auths/L/e.json"]))
    (root / "jitlite.toml").write_text("# padding\n" * 200_000)
    assert "more than the 1.0 MiB" in only_problem(root).message


def test_undecodable_and_too_deep_json(make_app: Callable[..., Path]) -> None:
    root = make_app({**PROXY_LOGIN, "auths/M/e.json": "[" * 200_000 + "]" * 200_000})
    (root / "auths/L/e.json").write_bytes(b'{"title": "\xff", "type": "auths.loginTypes.QywxProxyType"}')
    by_name = {p.full_name: p for p in problems_of(root)}
    assert by_name["auths.L"].message.startswith("is not UTF-8 text")
    assert by_name["auths.M"].message == "nests arrays or objects too deeply"


# -- misspelt configuration (item 15) -----------------------------------------------------------


def test_misspelt_app_json_keys(fixture_app: Callable[[str], Path]) -> None:
    found = problems_of(fixture_app("misspelt_app_keys"))
    # "titel" stands in for the missing "title": one problem each, no "title is missing" besides.
    assert sorted((p.where, p.message, p.fix) for p in found) == [
        ("setings", "unknown field 'setings'", "did you mean 'settings'?"),
        ("titel", "unknown field 'titel'", "did you mean 'title'?"),
    ]


def test_misspelt_and_mistyped_settings(fixture_app: Callable[[str], Path]) -> None:
    root = fixture_app("misspelt_setting")
    by_where = {p.where: p for p in problems_of(root)}
    assert set(by_where) == {"settings.wecomBaseURL", "settings.callbackTimestampWindow"}
    assert by_where["settings.wecomBaseURL"].message == "unknown setting 'wecomBaseURL'"
    assert by_where["settings.wecomBaseURL"].fix.startswith("did you mean 'wecomBaseUrl'?")
    assert by_where["settings.wecomBaseURL"].path == str(root / "app.json")
    assert by_where["settings.callbackTimestampWindow"].message == (
        "setting 'callbackTimestampWindow' must be a whole number")
    # "reportRecipients", far from every known setting, is the app's own: no problem.


def test_settings_out_of_their_range_fail_at_start_up(make_app: Callable[..., Path]) -> None:
    root = make_app({})
    (root / "jitlite.toml").write_text('[settings]\ntaskQueue = "rq"\ncallbackLeaseSeconds = 0\n'
                                       'reconcileSeconds = -5\ncallbackSweepSeconds = 0\n')
    by_where = {p.where: p for p in problems_of(root)}
    assert set(by_where) == {"settings.taskQueue", "settings.callbackLeaseSeconds", "settings.reconcileSeconds"}
    assert by_where["settings.taskQueue"].message == "setting 'taskQueue' must be one of thread, celery"
    assert by_where["settings.callbackLeaseSeconds"].message == (
        "setting 'callbackLeaseSeconds' must be a number of seconds > 0")
    assert by_where["settings.reconcileSeconds"].fix.startswith("give reconcileSeconds a number of seconds >= 0 (")


def test_settings_that_are_not_finite_numbers_fail_at_start_up(make_app: Callable[..., Path]) -> None:
    root = make_app({})
    (root / "jitlite.toml").write_text("[settings]\ncallbackLeaseSeconds = inf\nreconcileSeconds = nan\n")
    by_where = {p.where: p for p in problems_of(root)}
    assert set(by_where) == {"settings.callbackLeaseSeconds", "settings.reconcileSeconds"}
    assert by_where["settings.callbackLeaseSeconds"].message == (
        "setting 'callbackLeaseSeconds' must be a number of seconds > 0")


def test_misspelt_settings_in_jitlite_toml(make_app: Callable[..., Path]) -> None:
    root = make_app({})
    (root / "jitlite.toml").write_text('[settings]\nwecomBaseURL = "http://127.0.0.1:9"\n\n[setings]\nx = 1\n')
    by_where = {p.where: p for p in problems_of(root)}
    assert set(by_where) == {"settings.wecomBaseURL", "setings"}
    assert by_where["settings.wecomBaseURL"].path == str(root / "jitlite.toml")
    assert by_where["setings"].fix == "did you mean [settings]?"


def test_malformed_jitlite_toml_gives_line_and_column(make_app: Callable[..., Path]) -> None:
    root = make_app({})
    (root / "jitlite.toml").write_text('[variables]\nsuiteId = "tj1"\nsecret = oops\n')
    problem = only_problem(root)
    assert problem.path == str(root / "jitlite.toml")
    assert problem.where == "line 3, column 10"
    assert problem.message.startswith("invalid TOML: ")
    assert "(at line" not in problem.message


def test_a_broken_jitlite_toml_does_not_add_missing_variables(make_app: Callable[..., Path]) -> None:
    config = {"authConfig": {**PROXY_CONFIG["authConfig"], "suiteSecret": "{{suiteSecret}}"}}
    root = make_app({**PROXY_LOGIN, "auths/L/L.json": config},
                    variables=[{"name": "suiteSecret", "required": True}])
    (root / "jitlite.toml").write_text('[variables\nsuiteSecret = "s"\n')
    problem = only_problem(root)
    assert problem.message.startswith("invalid TOML")


def test_misspelt_standard_fields_in_e_json(fixture_app: Callable[[str], Path]) -> None:
    found = problems_of(fixture_app("misspelt_declaration"))
    assert sorted((p.full_name, p.where, p.fix.split("?")[0]) for p in found) == [
        ("auths.Typo", "titel", "did you mean 'title'"),
        ("corps.Corp", "descripton", "did you mean 'description'"),
    ]  # and corps.Corp's reference to auths.Typo is not reported: auths.Typo's own problem is the cause


def test_keys_a_type_declares_stay_allowed(fixture_app: Callable[[str], Path], tmp_path: Path) -> None:
    problem = only_problem(fixture_app("declared_extras"))
    assert (problem.full_name, problem.where) == ("things.Plain", "tags")
    assert "declares it in its schema.py Declaration" in problem.fix

    root = tmp_path / "declared_extras"
    shutil.copytree(fixture_app("declared_extras"), root, ignore=shutil.ignore_patterns("Plain", "__pycache__"))
    tagged = jitlite.App(root, environ={}).getElement("things.Tagged")
    assert tagged.declaration.tags == ["billing", "internal"]
    assert tagged.declaration.model_extra == {"owner": "ops"}  # unknown keys far from any field are kept


def test_one_cause_is_reported_once(fixture_app: Callable[[str], Path]) -> None:
    found = problems_of(fixture_app("hidden_by_bad_json"))
    assert sorted(p.full_name for p in found) == ["auths.BrokenLogin", "things.BrokenType"]
    assert all(p.message.startswith("invalid JSON") for p in found)


def test_a_broken_extended_app_hides_no_unknown_types(make_app: Callable[..., Path], tmp_path: Path) -> None:
    base = tmp_path / "base"
    (base / "things/BaseType").mkdir(parents=True)
    (base / "app.json").write_text('{"appId": "base", "title": "base",}')
    (base / "things/BaseType/e.json").write_text('{"title": "T", "type": "services.Meta"}')
    root = make_app({"things/I/e.json": {"title": "I", "type": "things.BaseType"}}, extends=["../base"])
    problem = only_problem(root)
    assert problem.path == str(base / "app.json")
    assert problem.message.startswith("invalid JSON")


def test_a_secret_key_that_is_not_a_fernet_key_fails_start_up(make_app: Callable[..., Path]) -> None:
    root = make_app(PROXY_LOGIN, settings={})
    problem = only_problem(root, {"JITLITE_SECRET_KEY": "not-a-real-key-value"})
    assert problem.message == "JITLITE_SECRET_KEY is not a Fernet key (32 url-safe base64-encoded bytes)"
    assert problem.path == "the environment variable JITLITE_SECRET_KEY"
    assert "jitlite keygen" in problem.fix
    assert "not-a-real-key-value" not in problem.render()

    good = Fernet.generate_key().decode()
    rotated = only_problem(root, {"JITLITE_SECRET_KEY": f"{good}, short"})
    assert rotated.message.startswith("key #2 of JITLITE_SECRET_KEY is not a Fernet key")
    assert jitlite.App(root, environ={"JITLITE_SECRET_KEY": f"{good},{Fernet.generate_key().decode()}"})

    (root / "jitlite.toml").write_text('[variables]\nJITLITE_SECRET_KEY = "abc"\n')
    from_toml = only_problem(root)
    assert (from_toml.path, from_toml.where) == (str(root / "jitlite.toml"), "variables.JITLITE_SECRET_KEY")


def test_jitlite_check_reports_a_bad_secret_key(make_app: Callable[..., Path]) -> None:
    root = make_app(PROXY_LOGIN, settings={})
    result = CliRunner().invoke(main, ["check", str(root)], env={"JITLITE_SECRET_KEY": "nope"},
                                catch_exceptions=False)
    assert result.exit_code == 1
    assert "JITLITE_SECRET_KEY is not a Fernet key" in result.stderr
    assert "jitlite keygen" in result.stderr
