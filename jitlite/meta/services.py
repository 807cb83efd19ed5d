"""``services.Meta``: the base of service elements (backend functions grouped by purpose)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from ..runtime.element import Element
from ..runtime.errors import ElementBuildError

__all__ = ["Service"]


class Service(Element):
    """A service element; its public methods are its functions.

    As in JitAi, e.json's ``functionList`` may declare a function's arguments with data types and
    ``"argsToDatatype": true``; each such argument then reaches the method as that data type
    (``amount.value`` is the number passed), unless it already is one. A declared function the
    class does not define, or an unknown data type, stops the element from being built.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._wrap_declared_functions()

    def _wrap_declared_functions(self) -> None:
        """Make the functions of ``functionList`` that ask for it convert their arguments to data types."""
        declared = [entry for entry in self.declaration.functionList if isinstance(entry, Mapping)]
        for position, entry in enumerate(declared):
            name = entry.get("name")
            where = f"{self.fullName} ({self.spec.declaration_path}), functionList[{position}]"
            if not isinstance(name, str) or not name.isidentifier():
                raise ElementBuildError(f"{where}: name must be the method's name, got {name!r:.60}")
            method = getattr(self, name, None)
            if not callable(method):
                raise ElementBuildError(f"{where}: class {type(self).__qualname__} has no method {name!r}; define "
                                        "it, or remove the entry from functionList")
            if not entry.get("argsToDatatype"):
                continue
            types = _argument_types(self, entry, where)
            if types:
                setattr(self, name, _converting(method, types))


def _argument_types(service: Service, entry: Mapping[str, Any], where: str) -> dict[str, Callable[..., Any]]:
    """Return the data type of each declared argument, by argument name."""
    args = entry.get("args") or []
    if not isinstance(args, list):
        raise ElementBuildError(f"{where}: args must be a list of {{name, title, dataType}} objects")
    namespace = service.app.getElement("datatypes.Meta").datatypes
    types: dict[str, Callable[..., Any]] = {}
    for arg in args:
        name = arg.get("name") if isinstance(arg, Mapping) else None
        type_name = arg.get("dataType") if isinstance(arg, Mapping) else None
        if not isinstance(name, str) or not isinstance(type_name, str):
            raise ElementBuildError(f"{where}: each of args needs a name and a dataType, got {arg!r:.80}")
        if not namespace.has(type_name):
            raise ElementBuildError(f"{where}: argument {name!r}: {namespace.problem(type_name)}")
        types[name] = getattr(namespace, type_name)
    return types


def _converting(method: Callable[..., Any], types: Mapping[str, Callable[..., Any]]) -> Callable[..., Any]:
    """Return ``method`` taking each argument named in ``types`` as that data type."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)  # an unknown argument is a TypeError, as in JitAi
        for name, make in types.items():
            if name in bound.arguments:
                value = bound.arguments[name]
                if not hasattr(value, "to_storage_field"):  # already a data type: keep it
                    bound.arguments[name] = make(value=value)
        return method(*bound.args, **bound.kwargs)

    return call
