"""How every command finds its app: ``--app PATH`` (or a positional APP), else ``./elements``, else ``.``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["DEFAULT_APP_FOLDER", "app_options", "find_app", "resolve_app"]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_APP_FOLDER = "elements"
_MANIFEST = "app.json"


def find_app(cwd: Path | None = None) -> Path:
    """Return the default app: ``./elements`` when it holds app.json, else the folder itself when it does."""
    here = cwd if cwd is not None else Path.cwd()
    if (here / DEFAULT_APP_FOLDER / _MANIFEST).is_file():
        return here / DEFAULT_APP_FOLDER
    if (here / _MANIFEST).is_file():
        return here
    raise click.UsageError(f"no app here: neither ./{DEFAULT_APP_FOLDER}/{_MANIFEST} nor ./{_MANIFEST} exists; "
                           "give the app folder with --app PATH, or make one with `jitlite init`")


def resolve_app(path: Path | None) -> Path:
    """Return the app folder a command was given, or the default one; raise click.UsageError if it is no app."""
    if path is None:
        return find_app()
    if path == Path(".") and not (path / _MANIFEST).is_file():
        # "." is also what older scripts pass for "the app here": let it find ./elements too.
        return find_app()
    if not path.is_dir():
        raise click.UsageError(f"app folder {str(path)!r} does not exist; give the folder that holds {_MANIFEST}")
    if not (path / _MANIFEST).is_file():
        raise click.UsageError(f"{str(path)!r} holds no {_MANIFEST}; give the folder that holds it "
                               "(or make an app there with `jitlite init`)")
    return path


def app_options(*, positional: bool = False) -> Callable[[F], F]:
    """Give a command ``--app PATH`` (and an optional positional APP) and pass it ``app_path``, resolved."""

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def wrapper(*args: Any, app_option: Path | None = None, app_argument: Path | None = None,
                    **kwargs: Any) -> Any:
            if app_option is not None and app_argument is not None and app_option.resolve() != app_argument.resolve():
                raise click.UsageError("give the app once: as APP or as --app, not both")
            kwargs["app_path"] = resolve_app(app_option if app_option is not None else app_argument)
            return command(*args, **kwargs)

        path_type = click.Path(file_okay=False, path_type=Path)
        decorated: Any = click.option(
            "--app", "app_option", default=None, metavar="PATH", type=path_type,
            help=f"The app folder (default: ./{DEFAULT_APP_FOLDER}, else the current folder when it has {_MANIFEST}).",
        )(wrapper)
        if positional:
            decorated = click.argument("app_argument", metavar="[APP]", required=False, type=path_type)(decorated)
        result: F = decorated
        return result

    return decorate
