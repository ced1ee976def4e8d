"""The peer benchmark's outputs: a rich table, a Markdown table for the docs, SVG charts."""

from __future__ import annotations

import math

from benchmarks.peer.run import Row
from rich.table import Table

from anymq.compare import svg


def ratio(values: tuple[float, float, float]) -> str:
    median, low, high = values
    if not math.isfinite(median):
        return "-"
    return f"{median:.2f} ({low:.2f}..{high:.2f})"


def rate(value: float) -> str:
    return f"{value:,.0f}" if math.isfinite(value) else "-"


def about_line(rounds: int, about: dict[str, str]) -> str:
    names = ", ".join(f"{k} {v}" for k, v in about.items())
    return f"{rounds} alternating round(s); {names}"


def table(rows: list[Row], rounds: int, about: dict[str, str]) -> Table:
    out = Table(
        title="anymq vs raw client vs FastStream: median (min..max) of anymq ÷ peer per round",
        caption=f"msg/s, higher is better; {about_line(rounds, about)}; every side received "
        "every message exactly once",
    )
    for column in ("workload", "messages", "anymq msg/s", "raw msg/s", "FastStream msg/s",
                   "anymq ÷ raw", "anymq ÷ FastStream"):  # fmt: skip
        out.add_column(column, justify="left" if column == "workload" else "right")
    for row in rows:
        out.add_row(
            row.workload.name, str(row.count), rate(row.median("anymq")), rate(row.median("raw")),
            rate(row.median("faststream")), ratio(row.spread("raw")),
            ratio(row.spread("faststream")),
        )  # fmt: skip
    return out


def markdown(rows: list[Row], rounds: int, about: dict[str, str]) -> str:
    lines = [
        f"<!-- {about_line(rounds, about)} -->",
        "",
        "| workload | anymq ÷ raw client | anymq ÷ FastStream | where the sides differ |",
        "|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.workload.title} | {ratio(row.spread('raw'))} | "
            f"{ratio(row.spread('faststream'))} | {row.workload.note} |"
        )
    return "\n".join(lines) + "\n"


def charts(rows: list[Row], rounds: int) -> dict[str, str]:
    """Two horizontal bar charts (medians; 1.0 = the peer's rate): one scale each, since
    anymq ÷ FastStream runs far past anymq ÷ raw."""
    names = [row.workload.label or row.workload.name for row in rows]
    out = {}
    for other, label, colour in (
        ("raw", "the raw client (aiokafka / aio-pika)", svg.BLUE),
        ("faststream", "FastStream", svg.ORANGE),
    ):
        out[f"peer-{other}.svg"] = svg.horizontal_bars(
            chart_id=f"peer-{other}",
            title=f"anymq ÷ {label}, median of {rounds} round(s)",
            categories=names,
            series=[
                svg.Series(
                    f"anymq ÷ {other}", colour,
                    [v if math.isfinite(v) else None for v in (r.spread(other)[0] for r in rows)],
                )
            ],
            x_label=f"anymq's rate ÷ {label}'s rate (higher is better; 1.0 = the same)",
            reference=1.0,
            reference_label="same rate",
        )  # fmt: skip
    return out
