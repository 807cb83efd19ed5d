"""jitlite: a Python element runtime (Meta → Type → Instance) with official WeCom and WeChat Types."""

from .runtime.app import App
from .runtime.element import Element
from .runtime.errors import (
    AuthError,
    CorpNotAuthorized,
    ElementBuildError,
    ElementLoadError,
    ElementNotFound,
    InvalidElementName,
    JitliteError,
    LoginCodeInvalid,
    LoginInactive,
    LoginStateInvalid,
    Problem,
    SessionInvalid,
)

__all__ = [
    "App",
    "AuthError",
    "CorpNotAuthorized",
    "Element",
    "ElementBuildError",
    "ElementLoadError",
    "ElementNotFound",
    "InvalidElementName",
    "JitliteError",
    "LoginCodeInvalid",
    "LoginInactive",
    "LoginStateInvalid",
    "Problem",
    "SessionInvalid",
]
__version__ = "0.1.0"
