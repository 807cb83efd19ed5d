"""The base class of every element object an app builds from an instance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, overload

from pydantic import BaseModel

from .schema import Declaration

if TYPE_CHECKING:
    from .app import App
    from .layers import ElementSpec

__all__ = ["Element"]

T = TypeVar("T")


class Element:
    """An instance element: its declaration, validated business config and app.

    Type classes subclass a Meta's base class, which subclasses this. JitAi's lifecycle hooks:

    - ``onLoad()`` runs once after construction; override it for set-up that needs the finished object;
    - ``onCalled()``, when the class defines it, runs on every ``getElement`` that returns the object;
    - ``onAppExit()``, when the class defines it, runs at ``App.close()``, before anything is closed;
    - ``close()``, when the class defines one taking no arguments, runs at ``App.close()`` after
      every ``onAppExit``: stop workers, release connections.
    """

    def __init__(self, *, app: App, spec: ElementSpec, declaration: Declaration, config: BaseModel) -> None:
        self.app = app
        self.spec = spec
        self.declaration = declaration
        self.config = config

    @property
    def fullName(self) -> str:
        """Return the element's fullName."""
        return self.spec.full_name

    @property
    def title(self) -> str:
        """Return the display title from e.json."""
        return self.declaration.title

    def onLoad(self) -> None:
        """Run once after the object is built; the default does nothing."""

    @overload
    def getElement(self, fullName: str) -> Any: ...

    @overload
    def getElement(self, fullName: str, cls: type[T]) -> T: ...

    def getElement(self, fullName: str, cls: type[T] | None = None) -> Any:
        """Return another element of the same app (an instance of cls when given, checked)."""
        if cls is None:
            return self.app.getElement(fullName)
        return self.app.getElement(fullName, cls)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.fullName}>"
