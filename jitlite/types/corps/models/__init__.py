"""The organisation models shared by every organisation Type: departments, members, roles, sync state."""
