"""The dashed 1.00x line of a bar chart never runs through text, whatever the values.

A large ratio (RabbitMQ's produce side measured 3.8x to 6x) squeezes 1.00x to the far
left; on a phone, where category names sit on their own row above the bars, the line
used to cross the name. Broken at those rows, it must still stop at the plot's bottom,
above the tick labels (a first fix ran 6 px into the "1.00x" tick). Measured in headless
Chromium with the report's own CSS on a 400 px window, as the report test does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from anymq.compare import svg
from anymq.compare.report_html import CSS
from tests.compare.chromium import INSTALL, chromium_path, render

pytestmark = pytest.mark.memory

LARGEST = (0.11, 0.56, 0.95, 1.05, 1.4, 2.3, 3.8, 6.0, 12.0, 20.0)
BROKERS = ("memory", "kafka", "rabbitmq", "sqs (moto)", "redis", "nats")


def _chart(largest: float, brokers: int) -> str:
    """The overhead chart as the report draws it (both widths, in its chart box)."""
    names = list(BROKERS[:brokers])
    chart = svg.both(
        svg.horizontal_bars,
        720,
        chart_id=f"c{largest}-{brokers}",
        title="anymq throughput as a share of the raw client (1.00\u00d7 = no overhead)",
        categories=names,
        series=[
            svg.Series("produce", svg.BLUE, [largest] + [0.9] * (brokers - 2) + [None]),
            svg.Series("consume", svg.SKY, [0.86] * brokers),
        ],
        x_label="anymq rate ÷ raw client rate on the same broker",
        reference=1.0,
        reference_label="raw client",
    )
    return f'<div class="chart-box" style="display:inline-block">{chart}</div>'


def test_the_reference_line_crosses_no_text(tmp_path: Path) -> None:
    if chromium_path() is None:
        pytest.fail(f"chromium is not installed; this test needs it: {INSTALL}")
    charts = [_chart(largest, brokers) for largest in LARGEST for brokers in (2, len(BROKERS))]
    html = tmp_path / "charts.html"
    html.write_text(
        '<!doctype html><html><head><meta name="viewport" content="width=device-width">'
        f"<style>{CSS}</style></head><body><main>{''.join(charts)}</main></body></html>",
        encoding="utf-8",
    )
    measured = asyncio.run(render(html, width=400)).measured["charts"]
    assert len(measured) >= len(LARGEST) * 2, "the narrow charts were not all drawn"
    crossed = {c["id"]: c["crossed"] for c in measured if c["crossed"]}
    overlaps = {c["id"]: c["overlaps"] for c in measured if c["overlaps"]}
    assert not crossed, f"the 1.00x line crosses text: {crossed}"
    assert not overlaps, f"labels overlap: {overlaps}"
