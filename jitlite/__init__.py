"""jitlite: a Python element runtime (Meta → Type → Instance) with official WeCom and WeChat Types."""

from .app import App
from .element import Element
from .errors import (
    AuthError,
    ElementBuildError,
    ElementLoadError,
    ElementNotFound,
    InvalidElementName,
    JitliteError,
    LoginCodeInvalid,
    LoginInactive,
    Problem,
    SessionInvalid,
)

__all__ = [
    "App",
    "AuthError",
    "Element",
    "ElementBuildError",
    "ElementLoadError",
    "ElementNotFound",
    "InvalidElementName",
    "JitliteError",
    "LoginCodeInvalid",
    "LoginInactive",
    "Problem",
    "SessionInvalid",
]
__version__ = "0.1.0"
