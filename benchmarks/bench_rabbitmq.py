"""Kept for old references: `benchmarks/bench.py` with an AMQP URL (the same options)."""

from bench import main

raise SystemExit(main(default_url="amqp://guest:guest@127.0.0.1:5672/"))
