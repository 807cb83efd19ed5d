"""Which names of an App the web layer serves, answered from the app index before anything is built."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from werkzeug.exceptions import NotFound

from jitlite.meta.auths import LOGIN_META, LoginType, login_type_class
from jitlite.runtime.app import App
from jitlite.runtime.errors import LoginInactive

__all__ = ["LOGIN_META", "LoginDirectory", "LoginListing"]

_NO_SUCH_LOGIN = "no active login element has this name"


@dataclass(frozen=True)
class LoginListing:
    """A login element as the login page lists it: name, title, Type and the entries its Type offers."""

    fullName: str
    title: str
    typeName: str
    entries: tuple[str, ...]
    label: tuple[str, str]


class LoginDirectory:
    """The login elements of an App and their Types, from the index (their Type classes, not instances)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._logins: frozenset[str] | None = None
        self._declared_active: dict[str, bool] = {}
        self._lock = threading.Lock()

    def logins(self) -> frozenset[str]:
        """Return the fullNames of every login element (instances of Types built on auths.loginTypes.Meta)."""
        if self._logins is None:  # the index never changes for the life of the App
            self._logins = frozenset(self.app.instancesOf(LOGIN_META))
        return self._logins

    def login(self, name: str) -> Any:
        """Return an active login element; raise 404 for any other name and LoginInactive for a disabled one."""
        if name not in self.logins():
            raise NotFound(_NO_SUCH_LOGIN)
        if not self.declared_active(name):
            raise LoginInactive(f"login through {name} is disabled (isActive is false in its config)")
        element = self.app.getElement(name)
        element.requireActive()  # also honours a switch flipped on the built element
        return element

    def declared_active(self, name: str) -> bool:
        """Tell whether a login element's config leaves it active (``isActive``, default true), without building it."""
        with self._lock:
            active = self._declared_active.get(name)
            if active is None:
                config = self.app.describe(name).get("config") or {}
                active = self._declared_active[name] = bool(config.get("isActive", True))
            return active

    def login_types(self) -> list[type[LoginType]]:
        """Return the distinct Type classes of the app's login elements, in the order of their elements."""
        classes: list[type[LoginType]] = []
        for name in sorted(self.logins()):
            cls = login_type_class(self.app, name)
            if cls is not None and cls not in classes:
                classes.append(cls)
        return classes

    def listing(self) -> list[LoginListing]:
        """Return the active login elements with what the login page shows of each, sorted by name."""
        found = []
        for name in sorted(self.logins()):
            cls = login_type_class(self.app, name)
            if cls is None or not cls.loginEntries or not self.declared_active(name):
                continue
            spec = self.app.spec(name)
            assert spec.type_spec is not None
            found.append(LoginListing(name, spec.declaration.title, spec.type_spec.full_name, cls.loginEntries,
                                      cls.loginLabel))
        return found
