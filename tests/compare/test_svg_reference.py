"""The dashed 1.00x line of a bar chart never runs through text, whatever the values.

A large ratio (RabbitMQ's produce side measured 3.8x to 6x) squeezes 1.00x to the far
left; on a phone, where category names sit on their own row above the bars, the line
used to cross the name. Measured in headless Chromium, as the report test does.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from anymq.compare import svg
from tests.compare.chromium import INSTALL, chromium_path, render

pytestmark = pytest.mark.memory


@pytest.mark.parametrize("largest", [1.4, 3.8, 6.0, 12.0])
def test_the_reference_line_crosses_no_text(tmp_path: Path, largest: float) -> None:
    if chromium_path() is None:
        pytest.fail(f"chromium is not installed; this test needs it: {INSTALL}")
    chart = svg.both(
        svg.horizontal_bars,
        720,
        chart_id="overhead",
        title="anymq / raw client",
        categories=["memory", "kafka", "rabbitmq", "sqs (moto)"],
        series=[
            svg.Series("produce", svg.BLUE, [0.32, 0.95, largest, None]),
            svg.Series("consume", svg.BLUE, [0.86, 1.0, 1.95, 0.97]),
        ],
        x_label="anymq throughput / the raw client's (1.00x = no overhead)",
        reference=1.0,
        reference_label="1.00x",
    )
    html = tmp_path / "chart.html"
    html.write_text(f"<!doctype html><html><body>{chart}</body></html>", encoding="utf-8")
    charts = asyncio.run(render(html)).measured["charts"]
    assert sorted(c["variant"] for c in charts) == ["narrow", "wide"]
    for measured in charts:
        assert measured["crossed"] == [], f"{measured['variant']}: {measured['crossed']}"
        assert measured["overlaps"] == [], f"{measured['variant']}: {measured['overlaps']}"
