"""Official service Types and their Meta."""
