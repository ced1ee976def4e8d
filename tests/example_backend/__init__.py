"""A third-party backend written from docs/plugins.md, kept here to prove the walkthrough."""
