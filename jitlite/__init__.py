"""jitlite: a Python element runtime (Meta → Type → Instance) with official WeCom and WeChat Types."""

from .runtime.app import App
from .runtime.element import Element
from .runtime.errors import (
    AppClosed,
    AuthError,
    CorpNotAuthorized,
    ElementBuildError,
    ElementLoadError,
    ElementNotFound,
    ElementTypeError,
    InvalidElementName,
    JitliteError,
    LoginCodeInvalid,
    LoginInactive,
    LoginStateInvalid,
    Problem,
    SessionInvalid,
)

# The at-rest key (JITLITE_SECRET_KEY, settings.secretKeyFile) is a variable storage provides to every App.
from .storage import secrets as _secrets  # noqa: F401  (registers on import)

__all__ = [
    "App",
    "AppClosed",
    "AuthError",
    "CorpNotAuthorized",
    "Element",
    "ElementBuildError",
    "ElementLoadError",
    "ElementNotFound",
    "ElementTypeError",
    "InvalidElementName",
    "JitliteError",
    "LoginCodeInvalid",
    "LoginInactive",
    "LoginStateInvalid",
    "Problem",
    "SessionInvalid",
]
__version__ = "0.1.0"
