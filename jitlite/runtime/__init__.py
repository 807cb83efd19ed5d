"""The element runtime: apps, layers, Meta → Type → Instance loading, variables and the import hook.

It knows nothing of WeCom, storage, the web or the sandbox; those build on it.
"""

from .app import App
from .element import Element

__all__ = ["App", "Element"]
