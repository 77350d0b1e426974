"""One package per calendar provider: its API client, wire format and parsing."""
