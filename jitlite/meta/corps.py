"""``corps.Meta``: the base of every organisation Type."""

from __future__ import annotations

from ..runtime.element import Element

__all__ = ["Corp"]


class Corp(Element):
    """An organisation (corp) whose departments and members live in the app's database."""

    @property
    def corpId(self) -> str:
        """Return the corp id from the business config."""
        return str(getattr(self.config, "corpId", ""))

    @property
    def authFullName(self) -> str:
        """Return the fullName of the login element that gives access to this corp."""
        return str(getattr(self.config, "authFullName", ""))

    @property
    def corpFullName(self) -> str:
        """Return this organisation element's own fullName."""
        return self.fullName
