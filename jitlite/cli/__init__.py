"""The ``jitlite`` command: list, check, show and scaffold elements; run the demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from ..runtime.app import App
from ..runtime.errors import ElementLoadError, ElementNotFound, InvalidElementName

__all__ = ["main"]

# Piped output gets a wide console so fullNames stay on one line.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

APP_ARG = click.argument("app_path", metavar="[APP]", default=".", type=click.Path(file_okay=False, path_type=Path))
APP_OPT = click.option("--app", "app_path", default=".", show_default=True, metavar="APP",
                       type=click.Path(file_okay=False, path_type=Path), help="The app folder.")


def _open(app_path: Path) -> App:
    """Open the app or exit 1 with every start-up problem."""
    try:
        return App(app_path)
    except ElementLoadError as exc:
        err_console.print(str(exc), markup=False)
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jitlite")
def main() -> None:
    """jitlite: element apps with WeCom and WeChat login and organisation Types."""


@main.command("list")
@APP_ARG
def list_elements(app_path: Path) -> None:
    """List every element of APP: fullName, kind, type, layer and title."""
    app = _open(app_path)
    table = Table(title=f"{app.title} ({app.appId}) — layers: {' → '.join(app.layers)}")
    for column in ("fullName", "kind", "type", "layer", "title"):
        table.add_column(column, overflow="fold")
    for spec in app.specs():
        table.add_row(spec.full_name, spec.kind, spec.type_name or "—", spec.layer.name, spec.declaration.title)
    console.print(table)


@main.command()
@APP_ARG
def check(app_path: Path) -> None:
    """Validate every element of APP and import every class; exit 1 listing each problem."""
    app = _open(app_path)
    failures = app.checkClasses()
    if failures:
        err_console.print(f"{len(failures)} element(s) cannot be built:", markup=False)
        for failure in failures:
            err_console.print(f"- {failure}", markup=False)
        sys.exit(1)
    specs = app.specs()
    instances = sum(1 for s in specs if s.kind == "instance")
    console.print(f"OK: app {app.appId!r} — {len(specs)} elements ({instances} instances) in layers "
                  f"{' → '.join(app.layers)}", markup=False)


@main.command()
@click.argument("full_name", metavar="FULLNAME")
@APP_OPT
def show(full_name: str, app_path: Path) -> None:
    """Show one element's declaration and business config, secrets masked."""
    app = _open(app_path)
    try:
        console.print_json(json.dumps(app.describe(full_name), ensure_ascii=False, default=str))
    except (ElementNotFound, InvalidElementName) as exc:
        err_console.print(str(exc), markup=False)
        sys.exit(1)


@main.command()
@click.argument("type_name", metavar="TYPE")
@click.argument("full_name", metavar="NAME")
@APP_OPT
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
@click.argument("app_path", metavar="[APP]", default="elements",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--member", default="wangfang", show_default=True, help="The sandbox member who logs in.")
def demo(app_path: Path, member: str) -> None:
    """Run the default app end to end against an in-process sandbox (no network)."""
    from .demo import run_demo

    app = _open(app_path)
    failures = app.checkClasses()
    if failures:
        for failure in failures:
            err_console.print(f"- {failure}", markup=False)
        sys.exit(1)
    console.print(f"{app.title}: layers {' → '.join(app.layers)}; data in {app.appDataDir}", markup=False)
    result = run_demo(app, console, member)
    console.rule()
    console.print(f"Demo done: user {result['userId']} logged in to {result['corpId']} by QR code and from the "
                  "workbench.", markup=False)


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
