"""Small statistics for the report: medians, nearest-rank percentiles, log-spaced histograms."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else 0.0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for no values)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def min_samples(q: float) -> int:
    """Samples a q-th percentile needs to differ from the maximum: at least one sample must
    lie above it (p95: 20, p99: 100), and never fewer than 5 for any percentile."""
    return max(5, math.ceil(100 / (100 - q) - 1e-9))


def chunks(values: Sequence[float], sizes: Sequence[int]) -> list[list[float]]:
    """``values`` cut into consecutive pieces of ``sizes`` (one per round)."""
    out, start = [], 0
    for size in sizes:
        out.append(list(values[start : start + size]))
        start += size
    return out


def summary(values: Sequence[float]) -> dict[str, float]:
    """count, min, mean, p50, p95, p99, max of values (milliseconds in the report)."""
    data = sorted(values)
    if not data:
        return {"count": 0}
    return {
        "count": len(data),
        "min": data[0],
        "mean": statistics.fmean(data),
        "p50": percentile(data, 50),
        "p95": percentile(data, 95),
        "p99": percentile(data, 99),
        "max": data[-1],
    }


def log_edges(low: float, high: float, bins: int = 24) -> list[float]:
    """``bins + 1`` edges spaced evenly on a log scale from low to high (both > 0)."""
    low = max(low, 1e-6)
    high = max(high, low * 1.01)
    lo, hi = math.log10(low), math.log10(high)
    step = (hi - lo) / bins
    return [10 ** (lo + i * step) for i in range(bins + 1)]


def histogram(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Counts per bin; values outside the edges go to the first or last bin."""
    counts = [0] * (len(edges) - 1)
    if not counts:
        return counts
    lo = math.log10(max(edges[0], 1e-9))
    hi = math.log10(edges[-1])
    span = (hi - lo) or 1.0
    last = len(counts) - 1
    for value in values:
        x = math.log10(max(value, 1e-9))
        index = int((x - lo) / span * len(counts))
        counts[min(max(index, 0), last)] += 1
    return counts
