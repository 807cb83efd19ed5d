"""jitlite: a Python element runtime (Meta → Type → Instance) with official WeCom and WeChat Types."""

from .app import App
from .element import Element
from .errors import (
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
