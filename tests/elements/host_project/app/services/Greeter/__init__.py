"""Element code importing elements by fullName, including names the host also uses."""

from __future__ import annotations

import json
from cmd.Tool import Tool
from typing import Any

import models
from auths.loginTypes.QywxProxyType import QywxProxyAuth
from corps.QywxProxyType import QywxProxyCorp

from jitlite.meta.services import Service


class Greeter(Service):
    """Reports what its fullName imports resolved to."""

    def imports(self) -> dict[str, Any]:
        """Return the modules and classes this element's imports found."""
        import cmd  # a function-level import resolves the same way

        import services.Greeter

        own_module = services.Greeter

        return {
            "QywxProxyAuth": f"{QywxProxyAuth.__module__}.{QywxProxyAuth.__qualname__}",
            "QywxProxyCorp": f"{QywxProxyCorp.__module__}.{QywxProxyCorp.__qualname__}",
            "Tool": Tool.__module__,
            "toolIsTheElementClass": type(self.app.getElement("cmd.Tool")) is Tool,
            "models": models.__name__,
            "modelsHasNormalType": hasattr(__import__("models.NormalType"), "NormalType"),
            "cmd": cmd.__name__,
            "cmdIsElementFolder": hasattr(cmd, "Tool"),
            "self": own_module.__name__,
            "json": json.__name__,
        }
