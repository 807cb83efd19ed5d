"""The base class of every element object an app builds from an instance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from .schema import Declaration

if TYPE_CHECKING:
    from .app import App
    from .layers import ElementSpec

__all__ = ["Element"]


class Element:
    """An instance element: its declaration, validated business config and app.

    Type classes subclass a Meta's base class, which subclasses this. ``onLoad`` runs once after
    construction; override it for set-up that needs the finished object.
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

    def getElement(self, fullName: str) -> Any:
        """Return another element of the same app."""
        return self.app.getElement(fullName)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.fullName}>"
