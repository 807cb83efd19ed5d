"""The host project's own models module (not an element)."""

OWNER = "host models.py"
