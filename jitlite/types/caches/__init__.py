"""Official cache Types and their Meta."""
