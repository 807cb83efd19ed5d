"""A plain service: its class is exported under the folder's name."""

from services.NormalType import NormalService


class Plain(NormalService):
    """A service with no functions."""
