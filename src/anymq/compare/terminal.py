"""The terminal side: a rich progress display while running, rich tables at the end.

The tables are drawn from the JSON document, like the HTML report.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from rich.console import Console, Group
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from anymq.compare import summary, svg

VERDICT = {
    "pass": ("✓ pass", "bold green"),
    "fail": ("✗ fail", "bold red"),
    "unsupported": ("\u2013 not supported", "grey50"),
    "skipped": ("? skipped", "yellow"),
    "not run": ("· not run", "grey50"),
}


class Display:
    """Progress bars keyed by name (one per broker and part): what runs now, how many of
    how many are done, time taken and, once a part has a total, the time left. Quiet when
    the output is not a terminal (a CI log gets the tables only)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[broker]:<10}[/]"),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(compact=True),
            console=console,
            transient=False,
            disable=not console.is_terminal,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Display:
        self.progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def start(self, key: str, broker: str, description: str, total: int | None) -> None:
        self._tasks[key] = self.progress.add_task(description, total=total, broker=broker)

    def describe(self, key: str, description: str) -> None:
        """Say what runs now without counting a step."""
        task = self._tasks.get(key)
        if task is not None:
            self.progress.update(task, description=description)

    def advance(self, key: str, description: str | None = None) -> None:
        task = self._tasks.get(key)
        if task is not None:
            if description is None:
                self.progress.advance(task)
            else:
                self.progress.update(task, advance=1, description=description)

    def total(self, key: str, total: int) -> None:
        task = self._tasks.get(key)
        if task is not None:
            self.progress.update(task, total=total)

    def finish(self, key: str, description: str) -> None:
        task = self._tasks.get(key)
        if task is not None:
            current = self.progress.tasks[task]
            self.progress.update(
                task, description=description, completed=current.total or current.completed
            )

    def log(self, text: str) -> None:
        if self.console.is_terminal:
            self.progress.console.print(text)


def tables(doc: dict[str, Any]) -> Group:
    """Everything the terminal shows at the end of a run."""
    parts: list[Any] = [glance_table(doc)]
    quick = summary.quick_note(doc)
    if quick:
        parts.append(Text(quick, "yellow"))
    parts.append(brokers_table(doc))
    if doc["semantics"] and any(b["behaviour"]["status"] != "not run" for b in doc["brokers"]):
        parts.append(behaviour_table(doc))
    if any(b["performance"]["status"] != "not run" for b in doc["brokers"]):
        parts.append(performance_table(doc))
        for note in differs(doc):
            parts.append(Text("not the same work: " + note, "grey62"))
    return Group(*parts)


def glance_table(doc: dict[str, Any]) -> Table:
    """The answers first: event or message broker, lost nothing or not, what anymq costs."""
    table = Table(
        title="At a glance",
        title_justify="left",
        title_style="bold",
        caption="event broker: keeps messages after they are consumed (a log) \u00b7 "
        "message broker: removes them once acked (a queue) \u00b7 costs: anymq throughput "
        "\u00f7 the broker's own client (1.00\u00d7 = no overhead), range over rounds",
        caption_justify="left",
    )
    for column in ("broker", "keeps messages?", "loses nothing?", "anymq costs"):
        table.add_column(column)
    style = {"ok": "green", "bad": "bold red", "none": "grey62"}
    for line in summary.lines(doc):
        kind = Text(line.kind or "not reached", "bold" if line.kind else "grey62")
        verdict = Text(line.contract, style[line.contract_verdict])
        cost = Text(line.cost)
        if line.cost_note:  # the note itself follows the performance table
            cost.append(" (not the same work, see below)", "grey62")
        table.add_row(line.broker, kind, verdict, cost)
    return table


def brokers_table(doc: dict[str, Any]) -> Table:
    table = Table(title="Brokers", title_justify="left", title_style="bold")
    for column in ("column", "URL", "status", "behaviour", "performance"):
        table.add_column(column)
    for b in doc["brokers"]:
        if b["status"] == "ok":
            status = Text(f"reachable ({b.get('backend')})", "green")
        else:
            status = Text(b["status"], "bold red")
            status.append("\n" + _short(b.get("reason") or "", 60), "grey62")
        counts = b["behaviour"]["counts"]
        behaviour = Text(b["behaviour"]["status"])
        if b["behaviour"]["status"] == "error":
            behaviour = Text("error", "bold red")
            behaviour.append("\n" + (b["behaviour"].get("detail") or "no reason given"), "red")
        if b["behaviour"]["status"] not in ("not run", "error"):
            behaviour = Text(f"{counts['pass']} \u2713 ", "green")
            behaviour.append(f"{counts['fail']} \u2717 ", "red" if counts["fail"] else "grey62")
            behaviour.append(f"{counts['unsupported']} \u2013 ", "grey62")
            behaviour.append(f"({b['behaviour']['seconds']:.0f} s)", "grey62")
        perf = b["performance"]
        performance = Text(perf["status"])
        if perf["status"] != "not run":
            performance.append(f" ({perf['seconds']:.0f} s)", "grey62")
        table.add_row(b["id"], escape(b["url"]), status, behaviour, performance)
    return table


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def behaviour_table(doc: dict[str, Any]) -> Table:
    brokers = doc["brokers"]
    table = Table(
        title="Behaviour: the contract suite per broker",
        title_justify="left",
        title_style="bold",
        caption="✓ pass: behaves as described · ✗ fail: tried and did not · "
        "\u2013 not supported: not declared, and refused with UnsupportedFeature",
        caption_justify="left",
    )
    table.add_column("semantic", max_width=44)
    for b in brokers:
        table.add_column(b["id"], min_width=16, max_width=30)
    category = None
    for row in doc["semantics"]:
        if row["category"] != category:
            category = row["category"]
            table.add_section()
            table.add_row(Text(category.upper(), "bold cyan"), *([""] * len(brokers)))
        cells = []
        for b in brokers:
            cell = row["cells"].get(b["id"], {})
            label, style = VERDICT.get(cell.get("result", "not run"), VERDICT["not run"])
            text = Text(label, style)
            notes = cell.get("notes") or []
            if cell.get("result") == "unsupported":
                notes = []  # "refuses <feature>" repeats the verdict
            if notes:
                text.append("\n" + ", ".join(notes), "grey62")
            if cell.get("result") == "fail" and cell.get("message"):
                text.append("\n" + cell["message"][:80], "red")
            cells.append(text)
        table.add_row(row["label"], *cells)
    return table


def performance_table(doc: dict[str, Any]) -> Table:
    brokers = doc["brokers"]
    table = Table(
        title="Performance: the same workload through anymq and the raw client",
        title_justify="left",
        title_style="bold",
        caption="cells: anymq / raw client, then anymq \u00f7 raw. Rates: higher is better, "
        "1.00\u00d7 = no overhead. Latency: lower is better, 1.00\u00d7 = just as fast.",
        caption_justify="left",
    )
    table.add_column("metric")
    for b in brokers:
        table.add_column(b["id"], justify="right")
    metrics = [
        ("produce msg/s", "produce_rate", "produce", False),
        ("consume msg/s", "consume_rate", "consume", False),
        ("latency p50 ms", "p50", "latency_p50", True),
        ("latency p95 ms", "p95", "latency_p95", True),
        ("latency p99 ms", "p99", "latency_p99", True),
    ]
    for label, key, ratio_key, latency in metrics:
        cells: list[Text | str] = []
        for b in brokers:
            perf = b["performance"]
            ours, raw = perf.get("anymq") or {}, perf.get("raw") or {}
            if not ours.get("produce_rate"):
                cells.append(Text(_why_not(b), "grey50"))
                continue
            detail = (perf.get("ratio_detail") or {}).get(ratio_key) or {}
            value = detail.get("value")
            if latency and value is None and detail.get("note"):
                cells.append(Text(f"\u2013\n{detail['note']}", "grey62"))  # p99 of 10 = max
                continue
            mine = (ours.get("latency_ms") or {}).get(key) if latency else ours.get(key)
            theirs = (raw.get("latency_ms") or {}).get(key) if latency else raw.get(key)
            fmt = svg.ms if latency else _rate
            text = Text(fmt(mine) if mine else "\u2013")
            text.append(" / " + (fmt(theirs) if theirs else "\u2013"), "grey62")
            if value:
                worse = value > 1.25 if latency else value < 0.8
                shown = summary.ratio_text(detail)
                text.append(f"\n{shown}", "yellow" if worse else "green")
            elif detail.get("note"):
                text.append(f"\n{detail['note']}", "grey62")
            cells.append(text)
        table.add_row(label, *cells, end_section=True)
    table.add_row(
        "raw client",
        *[
            Text(((b["performance"].get("raw") or {}).get("client")) or "\u2013", "grey62")
            for b in brokers
        ],
    )
    return table


def differs(doc: dict[str, Any]) -> list[str]:
    """Per measured broker, where the raw side does other work than anymq."""
    return [
        f"{b['id']}: {b['performance']['raw']['differs']}"
        for b in doc["brokers"]
        if (b["performance"].get("raw") or {}).get("differs")
    ]


def _rate(value: float) -> str:
    return f"{value:,.0f}"


def _why_not(broker: dict[str, Any]) -> str:
    if broker["status"] != "ok":
        return str(broker["status"])
    status = str(broker["performance"]["status"])
    return status if status != "error" else "error (see JSON)"
