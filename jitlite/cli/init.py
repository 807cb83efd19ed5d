"""``jitlite init``: scaffold a new app (app.json, a login element, jitlite.toml with a key, .gitignore)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import click

__all__ = ["init", "scaffold_app"]

LOGIN_ELEMENT = "auths.loginTypes.QywxLogin"
LOGIN_TYPE = "auths.loginTypes.QywxInnerType"

# The placeholders of the login element, filled from app variables. The values written to jitlite.toml
# are the local sandbox's (`jitlite sandbox`), so the new app runs at once; replace them with real ones.
_VARIABLES: tuple[tuple[str, str, str, bool], ...] = (
    ("qywxCorpId", "WeCom corp id (企业ID)", "wwsandboxcorp0001", False),
    ("qywxCorpSecret", "Secret of the self-built app (应用Secret)", "sandbox-corp-secret", True),
    ("qywxAgentId", "AgentId of the self-built app", "1000002", False),
    ("qywxRedirectUri", "Where WeCom returns after QR login",
     f"http://127.0.0.1:8000/login/{LOGIN_ELEMENT}/callback", False),
)

_SANDBOX_SETTINGS = ("wecomBaseUrl", "wecomLoginBaseUrl", "wechatBaseUrl", "wechatOpenBaseUrl")

_GITIGNORE = """# Local settings and secrets, and the app's data: never commit them.
jitlite.toml
appData/
__pycache__/
"""


def _app_id(folder: Path) -> str:
    """Return a camelCase appId made of the folder's name (``my-app`` → ``myApp``)."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", folder.name) if w]
    app_id = words[0][:1].lower() + words[0][1:] + "".join(w[:1].upper() + w[1:] for w in words[1:]) if words else ""
    if not app_id or not app_id[0].isalpha():
        app_id = "myApp" if not app_id else "app" + app_id[:1].upper() + app_id[1:]
    return app_id


def _write_private(path: Path, text: str) -> None:
    """Create a file only its owner can read (it holds the at-rest key and secrets)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def scaffold_app(folder: Path, app_id: str | None = None, title: str | None = None) -> list[Path]:
    """Write a new app into `folder` (created if missing); raise FileExistsError if an app is there already."""
    from cryptography.fernet import Fernet

    from ..runtime.layers import APP_ID_PATTERN

    app_id = app_id or _app_id(folder.resolve())
    if not re.fullmatch(APP_ID_PATTERN, app_id):
        raise ValueError(f"an appId is an identifier, or orgId.appName, not {app_id!r}")
    taken = [name for name in ("app.json", "jitlite.toml", "auths") if (folder / name).exists()]
    if taken:
        raise FileExistsError(f"{folder} already holds {', '.join(taken)}: jitlite init never overwrites an app; "
                              "choose an empty or new folder")
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "appId": app_id,
        "title": title or app_id,
        "version": "0.1.0",
        "extends": [],
        "settings": {},
        "variables": [{"name": name, "title": label, "required": True, **({"secret": True} if secret else {})}
                      for name, label, _, secret in _VARIABLES],
    }
    element = folder / Path(*LOGIN_ELEMENT.split("."))
    element.mkdir(parents=True)
    written = [folder / "app.json", element / "e.json", element / f"{element.name}.json",
               folder / "jitlite.toml", folder / ".gitignore"]
    written[0].write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    written[1].write_text(json.dumps({"title": "WeCom QR login (self-built app)", "type": LOGIN_TYPE},
                                     ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    config = {"corpId": "{{qywxCorpId}}", "corpSecret": "{{qywxCorpSecret}}", "agentId": "{{qywxAgentId}}",
              "redirectUri": "{{qywxRedirectUri}}", "isActive": True}
    written[2].write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    lines = ["# Local settings of this app: git-ignored, readable by its owner only.",
             "# The values below talk to the local sandbox (`jitlite sandbox`); put your WeCom app's here.",
             "[variables]",
             f"JITLITE_SECRET_KEY = {_toml_string(Fernet.generate_key().decode('ascii'))}"]
    lines += [f"{name} = {_toml_string(value)}" for name, _, value, _ in _VARIABLES]
    lines += ["", "[settings]", "# With `jitlite sandbox` running, point the WeCom and WeChat hosts at it:"]
    lines += [f"# {name} = \"http://127.0.0.1:8765\"" for name in _SANDBOX_SETTINGS]
    lines.append("")
    _write_private(written[3], "\n".join(lines))
    if not written[4].exists():
        written[4].write_text(_GITIGNORE, encoding="utf-8")
    else:
        written.pop()
    return written


@click.command("init")
@click.argument("folder", metavar="[DIR]", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--app-id", help="The appId (default: the folder's name in camelCase).")
@click.option("--title", help="The app's title (default: the appId).")
def init(folder: Path, app_id: str | None, title: str | None) -> None:
    """Make a new app in DIR: app.json, a WeCom login element, jitlite.toml with a new key, .gitignore."""
    from . import console

    try:
        written = scaffold_app(folder, app_id, title)
    except FileExistsError as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--app-id") from None
    for path in written:
        console.print(f"wrote {path}", markup=False)
    where = "" if folder.resolve() == Path.cwd() else f" --app {folder}"
    console.print(f"Next: `jitlite check{where}`, then `jitlite serve{where}` and open /login. "
                  "jitlite.toml holds the secret key: keep it out of version control.", markup=False)
