"""``auths.loginTypes.Meta``: the base of every login Type."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel

from ..runtime.element import Element
from ..runtime.errors import LoginInactive
from ..runtime.schema import masked_dump

__all__ = ["LoginInactive", "LoginType"]


class LoginType(Element):
    """A login method: turns a WeCom or WeChat credential into a system login code."""

    #: The name of the Type's auth model child element, e.g. ``QywxProxyAuthModel``.
    authModelName: ClassVar[str] = ""

    @property
    def authType(self) -> str:
        """Return the fullName of the Type this login element is an instance of."""
        assert self.spec.type_spec is not None
        return self.spec.type_spec.full_name

    @property
    def authModelElemName(self) -> str:
        """Return the fullName of the model that stores this Type's identities."""
        assert self.spec.type_spec is not None
        return f"{self.spec.type_spec.full_name}.{self.authModelName}" if self.authModelName else ""

    @property
    def isActive(self) -> bool:
        """Tell whether this login method is enabled (``isActive`` in the config, default true)."""
        return bool(getattr(self.config, "isActive", True))

    @property
    def authConfig(self) -> dict[str, Any]:
        """Return the authentication settings with every secret masked."""
        section = getattr(self.config, "authConfig", None)
        if isinstance(section, BaseModel):
            return masked_dump(section)
        return {k: v for k, v in masked_dump(self.config).items() if k != "isActive"}

    def requireActive(self) -> None:
        """Raise LoginInactive if this login method is disabled."""
        if not self.isActive:
            raise LoginInactive(f"login through {self.fullName} is disabled (isActive is false in its config); "
                                "set \"isActive\": true to enable it")
