"""Kept for old references: `benchmarks/bench.py` with a Kafka URL (the same options)."""

from bench import main

raise SystemExit(main(default_url="kafka://127.0.0.1:9092"))
