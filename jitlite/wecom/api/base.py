"""The per-client API namespace base class and the descriptor that binds it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

if TYPE_CHECKING:
    from ..client import WeComClient

__all__ = ["BaseAPI", "api_namespace", "drop_none", "strip_status"]

A = TypeVar("A", bound="BaseAPI")


class BaseAPI:
    """One API area (``client.department``, ``client.user`` …) bound to one client."""

    _client: WeComClient  # narrowed by each subclass to the client kind it serves

    def __init__(self, client: Any) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self._client!r}>"


class api_namespace(Generic[A]):  # noqa: N801 - used like a decorator-style attribute declaration
    """Descriptor exposing an API class as a per-client attribute, built once per client."""

    def __init__(self, api_cls: type[A]) -> None:
        self._api_cls = api_cls
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> api_namespace[A]: ...

    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> A: ...

    def __get__(self, obj: object | None, objtype: type | None = None) -> A | api_namespace[A]:
        if obj is None:
            return self
        api = self._api_cls(obj)
        # A non-data descriptor: the instance attribute shadows it from now on.
        obj.__dict__[self._name] = api
        return api


def drop_none(**params: Any) -> dict[str, Any]:
    """Return the keyword arguments whose value is not None."""
    return {key: value for key, value in params.items() if value is not None}


def strip_status(data: dict[str, Any]) -> dict[str, Any]:
    """Return a response without its errcode/errmsg status fields."""
    return {key: value for key, value in data.items() if key not in ("errcode", "errmsg")}
