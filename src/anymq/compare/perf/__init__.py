"""The performance half of ``anymq compare``: one standard workload, anymq vs the raw client.

``anymq_side`` uses only the public anymq API; the raw side is the baseline each backend
declares in its compare profile (``anymq.compare.profile.Baseline``), running the same
workload (``workload``) through the broker's own client library, imported only when that
broker is measured.
"""
