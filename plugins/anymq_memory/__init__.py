"""The built-in in-memory event log backend (``memory://``), registered like any plugin."""
