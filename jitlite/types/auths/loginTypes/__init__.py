"""Official login Types and their Meta."""
