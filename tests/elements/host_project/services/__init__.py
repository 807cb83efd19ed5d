"""The host project's own services package (not an element)."""

OWNER = "host services package"
