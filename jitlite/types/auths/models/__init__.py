"""The identity models shared by every login Type."""
