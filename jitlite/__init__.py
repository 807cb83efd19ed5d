"""jitlite: a Python element runtime (Meta → Type → Instance) with official WeCom and WeChat Types."""

from .app import App
from .element import Element
from .errors import (
    ElementBuildError,
    ElementLoadError,
    ElementNotFound,
    InvalidElementName,
    JitliteError,
    Problem,
)

__all__ = [
    "App",
    "Element",
    "ElementBuildError",
    "ElementLoadError",
    "ElementNotFound",
    "InvalidElementName",
    "JitliteError",
    "Problem",
]
__version__ = "0.1.0"
