"""Element code under a folder named like a standard-library module."""

from jitlite.meta.services import Service


class Tool(Service):
    """A service whose fullName starts with ``cmd``."""

    def owner(self) -> str:
        """Return who provides this class."""
        return "element cmd.Tool"
