"""The performance half of ``anymq compare``: one standard workload, anymq vs the raw client.

``anymq_side`` uses only the public anymq API; ``raw_<kind>`` runs the same workload
through the broker's own client library, imported only when that broker is compared.
"""
