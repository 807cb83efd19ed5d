"""``databases.Meta``: the base of database elements (an SQLAlchemy engine and the secrets box)."""

from __future__ import annotations

import threading

from sqlalchemy.engine import Engine

from ..runtime.element import Element
from ..storage import SECRET_KEY_VARIABLE, SecretBox
from ..storage.errors import SecretKeyError

__all__ = ["Database"]


class Database(Element):
    """A database element: the engine the app's models use, opened once per app."""

    engine: Engine

    def onLoad(self) -> None:
        """Open the engine once the element is built."""
        self.engine = self.createEngine()
        self._box: SecretBox | None = None
        self._box_lock = threading.Lock()

    def createEngine(self) -> Engine:
        """Return the SQLAlchemy engine of this database Type."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement createEngine()")

    @property
    def secretBox(self) -> SecretBox:
        """Return the box that encrypts secrets at rest, from the app variable JITLITE_SECRET_KEY."""
        with self._box_lock:
            if self._box is None:
                key = self.app.envVars.get(SECRET_KEY_VARIABLE, "")
                if not key.strip():
                    raise SecretKeyError(
                        f"{self.fullName} stores secrets, but the variable {SECRET_KEY_VARIABLE} has no value; "
                        "set it to a Fernet key (generate one with `jitlite keygen`) in the environment or "
                        "jitlite.toml")
                self._box = SecretBox(key)
            return self._box

    def dispose(self) -> None:
        """Close every pooled connection (an app calls this at shutdown)."""
        self.engine.dispose()

    def close(self) -> None:
        """Release the engine's connections when the app closes (``App.close()`` calls it)."""
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.dispose()
