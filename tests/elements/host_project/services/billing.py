"""A module of the host project's services package."""

OWNER = "host services.billing"
