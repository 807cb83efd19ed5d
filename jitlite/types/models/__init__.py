"""Official model Types and their Meta."""
