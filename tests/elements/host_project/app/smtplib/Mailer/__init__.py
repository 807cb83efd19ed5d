"""A service under a folder named like the standard library's smtplib; its class is found by its name."""

from services.NormalType import NormalService


class Mailer(NormalService):
    """Exported under the folder's name, so e.json needs no className."""
