"""Official auth services."""
