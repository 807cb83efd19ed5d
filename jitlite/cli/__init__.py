"""The ``jitlite`` command: list, check, show and scaffold elements; serve an app; run the demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from ..runtime.app import App
from ..runtime.errors import ElementLoadError, ElementNotFound, InvalidElementName, Problem
from .appopt import app_options, resolve_app

__all__ = ["main"]

# Piped output gets a wide console so fullNames stay on one line.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

APP_OPTIONS = app_options(positional=True)
APP_OPTION = app_options(positional=False)
JSON_OPT = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


def _open(app_path: Path | None) -> App:
    """Open the app (the default one if None) or exit 1 with every start-up problem."""
    try:
        return App(resolve_app(app_path))
    except ElementLoadError as exc:
        err_console.print(str(exc), markup=False)
        sys.exit(1)


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _problem_json(problem: Problem) -> dict[str, str]:
    return {"element": problem.full_name, "file": problem.path, "field": problem.where,
            "message": problem.message, "fix": problem.fix}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jitlite")
def main() -> None:
    """jitlite: element apps with WeCom and WeChat login and organisation Types."""


@main.command("list")
@APP_OPTIONS
@JSON_OPT
def list_elements(app_path: Path, as_json: bool) -> None:
    """List every element of the app: fullName, kind, type, layer and title."""
    app = _open(app_path)
    rows = [{"fullName": s.full_name, "kind": s.kind, "type": s.type_name, "layer": s.layer.name,
             "title": s.declaration.title} for s in app.specs()]
    if as_json:
        _echo_json({"appId": app.appId, "title": app.title, "layers": app.layers, "elements": rows})
        return
    table = Table(title=f"{app.title} ({app.appId}) — layers: {' → '.join(app.layers)}")
    for column in ("fullName", "kind", "type", "layer", "title"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(str(row[c] or "—") for c in ("fullName", "kind", "type", "layer", "title")))
    console.print(table)


@main.command()
@APP_OPTIONS
@JSON_OPT
def check(app_path: Path, as_json: bool) -> None:
    """Validate every element of the app and import every class; exit 1 listing each problem."""
    try:
        app = App(app_path)
    except ElementLoadError as exc:
        if as_json:
            _echo_json({"ok": False, "problems": [_problem_json(p) for p in exc.problems]})
        else:
            err_console.print(str(exc), markup=False)
        sys.exit(1)
    problems = [_problem_json(problem) for problem in app.classProblems()]
    specs = app.specs()
    instances = sum(1 for s in specs if s.kind == "instance")
    if as_json:
        _echo_json({"ok": not problems, "appId": app.appId, "elements": len(specs), "instances": instances,
                    "layers": app.layers, "problems": problems})
        if problems:
            sys.exit(1)
        return
    if problems:
        err_console.print(f"{len(problems)} element(s) cannot be built:", markup=False)
        for problem in problems:
            err_console.print(f"- {problem['message']}", markup=False)
        sys.exit(1)
    console.print(f"OK: app {app.appId!r} — {len(specs)} elements ({instances} instances) in layers "
                  f"{' → '.join(app.layers)}", markup=False)


@main.command()
@click.argument("full_name", metavar="FULLNAME")
@APP_OPTION
@JSON_OPT
def show(full_name: str, app_path: Path, as_json: bool) -> None:
    """Show one element's declaration and business config, secrets masked."""
    app = _open(app_path)
    try:
        described = app.describe(full_name)
    except (ElementNotFound, InvalidElementName) as exc:
        err_console.print(str(exc), markup=False)
        sys.exit(1)
    if as_json:
        _echo_json(described)
    else:
        console.print_json(json.dumps(described, ensure_ascii=False, default=str))


@main.command()
@click.argument("type_name", metavar="TYPE")
@click.argument("full_name", metavar="NAME")
@APP_OPTION
def new(type_name: str, full_name: str, app_path: Path) -> None:
    """Create the folder of a new instance NAME (a fullName) of TYPE, from the Type's schema."""
    from ..runtime.index import build_index
    from ..runtime.names import check_full_name, suggest
    from ..runtime.skeleton import scaffold

    try:
        # Tolerant: the app may hold other skeletons that are not filled in yet.
        index = build_index(app_path.resolve(), strict=False)
    except ElementLoadError as exc:
        err_console.print(str(exc), markup=False)
        sys.exit(1)
    try:
        check_full_name(full_name)
        check_full_name(type_name)
        spec = index.spec(type_name)
        types = index.type_names()
        if spec is None:
            raise ElementNotFound(type_name, suggest(type_name, types))
        if spec.kind != "type":
            raise ElementNotFound(type_name, suggest(type_name, types), detail=f"it is a {spec.kind}, not a Type")
        written = scaffold(index, type_name, full_name)
    except (ElementNotFound, InvalidElementName, FileExistsError, ValueError) as exc:
        err_console.print(str(exc), markup=False)
        sys.exit(1)
    for path in written:
        console.print(f"wrote {path}", markup=False)
    console.print("Fill in the empty values, then run `jitlite check`.", markup=False)


@main.command()
def keygen() -> None:
    """Print a new key for JITLITE_SECRET_KEY (Fernet), which encrypts secrets at rest."""
    from cryptography.fernet import Fernet

    click.echo(Fernet.generate_key().decode("ascii"))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind (no auth: keep loopback).")
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--org", "org_file", type=click.Path(dir_okay=False, exists=True), help="A JSON org file.")
@click.option("--members", type=int, help="Generate this many members …")
@click.option("--depts", type=int, help="… over this many departments.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the generated org.")
@click.option("--ticket-interval", default=600.0, show_default=True, type=float,
              help="Seconds between suite_ticket pushes (0: none).")
@click.option("--callback-url", help="Where the default suite's callbacks are pushed.")
def sandbox(host: str, port: int, org_file: str | None, members: int | None, depts: int | None, seed: int,
            ticket_interval: float, callback_url: str | None) -> None:
    """Run the local WeCom and WeChat emulator as a server."""
    if org_file and (members or depts):
        raise click.UsageError("give --org or --members/--depts, not both")
    from ..sandbox.server import serve

    serve(host, port, org_file=org_file, members=members, depts=depts, seed=seed,
          ticket_interval=ticket_interval, callback_url=callback_url)


from .sync import sync as _sync_command  # noqa: E402 - its module imports this one's helpers

main.add_command(_sync_command)
from .callbacks import callbacks as _callbacks_command  # noqa: E402
from .demo import demo as _demo_command  # noqa: E402
from .init import init as _init_command  # noqa: E402
from .serve import serve as _serve_command  # noqa: E402

main.add_command(_callbacks_command)
main.add_command(_demo_command)
main.add_command(_init_command)
main.add_command(_serve_command)

from .worker import beat as _beat_command  # noqa: E402 - Celery is imported only when they run
from .worker import worker as _worker_command  # noqa: E402

main.add_command(_worker_command)
main.add_command(_beat_command)
