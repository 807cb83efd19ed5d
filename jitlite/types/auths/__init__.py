"""Official login elements."""
