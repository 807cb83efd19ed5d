"""Official organisation Types and their Meta."""
