"""``jitlite sync``: sync organisations from WeCom now, with a progress bar and a summary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..runtime.app import App
from ..runtime.errors import ElementNotFound, InvalidElementName

if TYPE_CHECKING:  # imported when the command runs, so `jitlite --help` stays light
    from ..meta.corps import Corp, ReconcileResult
    from ..wecom.orgsync import Progress as SyncProgress

__all__ = ["sync"]

_STAGES = {"departments": "departments", "members": "departments' members", "stragglers": "single members",
           "finishing": "offlining the departed", "done": "done"}


def _targets(app: App, target: str | None, corp_id: str | None, auth: str | None, every: bool) -> list[Corp]:
    """Return the organisations the options name; raise click.UsageError when they name none."""
    from ..meta.corps import Corp, organisations
    if sum((target is not None, corp_id is not None, every)) != 1:
        raise click.UsageError("name one organisation (corps.NAME), one corp (--corp CORPID) or --all")
    if auth is not None and corp_id is None:
        raise click.UsageError("--auth goes with --corp")
    if every:
        return organisations(app)
    if target is not None:
        try:
            found = app.getElement(target)
        except (ElementNotFound, InvalidElementName) as exc:
            raise click.UsageError(str(exc)) from None
        if not isinstance(found, Corp):
            raise click.UsageError(f"{target} is not an organisation (an instance of a corps Type)")
        return [found]
    matches = [c for c in organisations(app) if c.corpId == corp_id and (auth is None or c.authFullName == auth)]
    if matches:
        return matches
    raise click.UsageError(f"no organisation of the app has corp {corp_id}"
                           f"{f' through {auth}' if auth else ''}: it needs a folder under corps/, or an active "
                           "authorisation of a login element's suite")


@click.command("sync")
@click.argument("target", required=False, metavar="[corps.NAME]")
@click.option("--corp", "corp_id", metavar="CORPID", help="The organisation of this corp (folder or run time).")
@click.option("--auth", "auth", metavar="FULLNAME", help="With --corp: the login element the corp authorised.")
@click.option("--all", "every", is_flag=True, help="Every organisation: folders and authorised corps.")
@click.option("--app", "app_path", default=".", show_default=True, metavar="APP",
              type=click.Path(file_okay=False, path_type=Path), help="The app folder.")
def sync(target: str | None, corp_id: str | None, auth: str | None, every: bool, app_path: Path) -> None:
    """Sync organisations from WeCom into the app's database and print what changed.

    The summary counts members and departments created, updated, set offline and deleted,
    entities skipped (outside the app's visible range), API calls and seconds. Exit 1 if any failed.
    """
    from ..meta.corps import reconcile
    from . import _open, console, err_console

    app = _open(app_path)
    corps = _targets(app, target, corp_id, auth, every)
    if not corps:
        console.print("No organisation to sync: the app has no corps instance and no authorised corp.", markup=False)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=False) as bar:
        tasks = {c.corpFullName: bar.add_task(c.corpFullName, total=None) for c in corps}

        def progress_of(corp: Corp) -> SyncProgress:
            task = tasks[corp.corpFullName]

            def update(stage: str, done: int, total: int | None) -> None:
                bar.update(task, description=f"{corp.corpFullName}: {_STAGES.get(stage, stage)}", completed=done,
                           total=total)

            return update

        results = reconcile(app, only=corps, progress=progress_of)
        for corp, result in zip(corps, results, strict=True):
            bar.update(tasks[corp.corpFullName], description=f"{corp.corpFullName}: {_outcome(result)}")
    console.print(_summary(results, corps))
    if any(r.error for r in results):
        for result in results:
            if result.error:
                err_console.print(f"{result.corpFullName}: {result.error}", markup=False)
        sys.exit(1)


def _outcome(result: ReconcileResult) -> str:
    if result.error:
        return "failed"
    if result.skipped:
        return "skipped"
    return "done"


def _summary(results: list[ReconcileResult], corps: list[Corp]) -> Table:
    table = Table(title="Organisation sync")
    for column in ("organisation", "corp", "created", "updated", "offline", "deleted", "skipped", "API calls",
                   "seconds", "result"):
        table.add_column(column, justify="right" if column not in ("organisation", "corp", "result") else "left",
                         overflow="fold")
    totals: dict[str, Any] = {}
    for result, corp in zip(results, corps, strict=True):
        report = result.report or {}
        for key in ("created", "updated", "offline", "deleted", "skipped", "apiCalls", "seconds"):
            totals[key] = totals.get(key, 0) + report.get(key, 0)
        kind = " (run time)" if corp.isRuntime else ""
        table.add_row(result.corpFullName + kind, result.corpId,
                      *(str(report.get(k, "–")) for k in ("created", "updated", "offline", "deleted", "skipped",
                                                          "apiCalls")),
                      f"{report['seconds']:.2f}" if "seconds" in report else "–",
                      result.error or result.skipped or "ok")
    if len(results) > 1:
        table.add_row("total", "", *(str(totals[k]) for k in ("created", "updated", "offline", "deleted", "skipped",
                                                              "apiCalls")), f"{totals['seconds']:.2f}", "")
    return table

