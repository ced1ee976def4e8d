"""``sqlite://``: a message broker in one SQLite file (an example third-party backend)."""
