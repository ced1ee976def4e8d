"""``anymq compare``: the behaviour and performance of several brokers side by side.

Behaviour runs the contract suite (``anymq.testing``) against each broker in a
subprocess and turns its results into a semantics matrix; performance runs one standard
workload through anymq and through each broker's raw client. The results go to the
terminal (rich), a JSON file and a single-file HTML report that opens offline.
"""
