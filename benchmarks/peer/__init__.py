"""The peer benchmark: anymq vs FastStream vs the raw client on the same broker, same run.

    python -m benchmarks.peer [URL ...] [--count N] [--rounds R] [--workload NAME ...]

(from the repository root; ``pip install -e '.[bench]'`` adds FastStream). Each URL's
scheme picks its workloads (kafka:// and amqp://; both brokers when no URL is given).
Rounds alternate the order of the three sides; every side and round gets fresh topics,
groups and queues; every side counts every message it sent and received and the run stops
with an error when one is missing or arrives twice (``PeerCountError``). The timed part of
a consume workload runs from the first message received to the last, so group joins and
the first fetch are outside it on every side. The result is anymq ÷ raw and
anymq ÷ FastStream per workload, median and min..max over the rounds, plus a note per
workload where the sides do different work; ``--out`` (default ``reports/peer``) gets the
JSON of every round, a Markdown table and two SVG charts.
"""
