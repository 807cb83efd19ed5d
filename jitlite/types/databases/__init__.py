"""Official database Types and their Meta."""
