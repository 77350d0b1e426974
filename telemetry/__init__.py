"""Logs and metrics: the ground floor every other package may use; it imports none of them."""
