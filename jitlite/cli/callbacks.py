"""``jitlite callbacks``: list the callback records of the app's login Types, and retry one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from ..meta.auths import callback_inboxes
from ..runtime.app import App
from .appopt import app_options, resolve_app

__all__ = ["callbacks"]

STATUSES = ("pending", "processing", "done", "failed")
_LIMIT = 1000  # records listed at most (newest first); --limit changes it


def _services(app: App) -> list[Any]:
    """Return the callback services, started (starting one resumes its pending records)."""
    return [app.getElement(name) for name in callback_inboxes(app)]


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


def _record(service: str, row: Any) -> dict[str, Any]:
    return {"id": row.id, "service": service, "element": row.authFullName, "infoType": row.infoType,
            "corp": row.corpId, "status": row.status, "attempts": row.attempts,
            "received": row.receivedAt.isoformat() if row.receivedAt else None,
            "lastError": _first_line(row.lastError), "note": _first_line(row.note)}


@click.group("callbacks", invoke_without_command=True)
@app_options()
@click.option("--status", type=click.Choice(STATUSES), help="Only the records with this status.")
@click.option("--limit", default=_LIMIT, show_default=True, type=click.IntRange(1, 100_000),
              help="List at most this many records, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def callbacks(ctx: click.Context, app_path: Path, status: str | None, limit: int, as_json: bool) -> None:
    """List the callback records WeCom delivered: id, element, infoType, corp, status, attempts, last error."""
    ctx.obj = {"app_path": app_path, "as_json": as_json}
    if ctx.invoked_subcommand is not None:
        return
    from ..storage import Q
    from . import _echo_json, _open, console

    app = _open(app_path)
    try:
        rows: list[dict[str, Any]] = []
        # The record models, not the services: listing must not start a service, which would resume
        # (and so process) the pending records it lists.
        for service, model in callback_inboxes(app).items():
            found = app.getElement(model).query(filter=Q(status=status) if status else None,
                                                orderList=[["id", -1]], page=1, size=limit)
            rows.extend(_record(service, row) for row in found["rowDatas"])
    finally:
        app.close()
    if as_json:
        _echo_json(rows)
        return
    if not rows:
        console.print(f"No {status + ' ' if status else ''}callback records.", markup=False)
        return
    table = Table(title="Callback records" + (f" ({status})" if status else ""))
    for column in ("id", "element", "infoType", "corp", "status", "attempts", "received", "last error"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(str(row["id"]), row["element"], row["infoType"], row["corp"] or "—", row["status"],
                      str(row["attempts"]), row["received"] or "—", row["lastError"] or "")
    console.print(table)


@callbacks.command("retry")
@click.argument("record_id", metavar="ID", type=click.IntRange(1))
@click.option("--service", "service_name", metavar="FULLNAME",
              help="The callback service (needed only when the app has several).")
@click.option("--app", "app_option", default=None, metavar="PATH", type=click.Path(file_okay=False, path_type=Path),
              help="The app folder (as `jitlite callbacks --app`).")
@click.option("--json", "as_json", is_flag=True, help="Print the record as JSON.")
@click.pass_context
def retry(ctx: click.Context, record_id: int, service_name: str | None, app_option: Path | None,
          as_json: bool) -> None:
    """Process callback record ID again now (a failed or pending one, or one whose lease expired)."""
    from ..meta.inbox import LeaseHeld
    from ..storage import Q
    from . import _echo_json, _open, console, err_console

    app = _open(resolve_app(app_option) if app_option is not None else ctx.obj["app_path"])
    try:
        services = [s for s in _services(app) if service_name is None or s.fullName == service_name]
        if not services:
            raise click.UsageError(f"no callback service named {service_name}" if service_name
                                   else "the app has no login element that receives callbacks")
        owner = next((s for s in services if s.records.get(Q(id=record_id)) is not None), None)
        if owner is None:
            raise click.ClickException(f"no callback record {record_id}; list them with `jitlite callbacks`")
        error: str | None = None
        try:
            owner.retryCallBack(record_id)
        except LeaseHeld as exc:
            err_console.print(f"record {record_id}: {exc}", markup=False)
            sys.exit(1)
        except ValueError as exc:  # e.g. a record that is already done
            raise click.ClickException(f"record {record_id}: {exc}") from None
        except Exception as exc:  # the handler failed again: the record keeps the error
            error = _first_line(str(exc)) or type(exc).__name__
        row = _record(owner.fullName, owner.records.get(Q(id=record_id)))
    finally:
        app.close()
    if as_json or ctx.obj["as_json"]:
        _echo_json(row)
    elif row["status"] == "done":
        console.print(f"record {record_id} ({row['infoType']}): done after {row['attempts']} attempt(s) — "
                      f"{row['note']}", markup=False)
    else:
        err_console.print(f"record {record_id} ({row['infoType']}): {row['status']} after {row['attempts']} "
                          f"attempt(s) — {row['lastError'] or error or ''}", markup=False)
    if row["status"] != "done":
        sys.exit(1)
