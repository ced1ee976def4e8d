"""The single-file HTML report: inline CSS and inline SVG charts, nothing loaded from anywhere.

Drawn from the JSON document (:mod:`anymq.compare.report_json`). Every section opens with
a short "how to read this" paragraph so a newcomer needs no other explanation.
"""

from __future__ import annotations

from html import escape
from typing import Any

from anymq.compare import semantics, summary, svg

NONE = "\u2013"  # an en dash for "no figure"

RESULT_STYLE = {
    "pass": ("pass", "✓", "pass"),
    "fail": ("fail", "✗", "fail"),
    "unsupported": ("unsupported", "\u2013", "not supported"),
    "skipped": ("skipped", "?", "skipped"),
    "not run": ("notrun", "·", "not run"),
}

CSS = """
:root { --ink:#1F2328; --muted:#59636E; --line:#D0D7DE; --soft:#F6F8FA;
  --pass-bg:#E3F4EE; --pass:#00664A; --fail-bg:#FCE8DE; --fail:#A33F00;
  --na-bg:#EEEEEE; --na:#4D4D4D; --blue:#0072B2; --orange:#E69F00; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
  Arial, sans-serif; color: var(--ink); background: #fff; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
header { margin-bottom: 8px; }
h1 { font-size: 28px; margin: 8px 0 4px; }
h2 { font-size: 21px; margin: 36px 0 6px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 16px; margin: 20px 0 6px; }
.sub { color: var(--muted); margin: 0 0 14px; }
nav { display: flex; flex-wrap: wrap; gap: 4px 14px; }
nav a { color: var(--blue); text-decoration: none; font-weight: 600; }
.how { background: var(--soft); border-left: 4px solid var(--blue); padding: 10px 14px;
  margin: 10px 0 16px; max-width: 900px; }
.how b { color: var(--ink); }
.banner { padding: 10px 14px; margin: 12px 0; border-radius: 6px; background: var(--fail-bg);
  color: var(--fail); font-weight: 600; }
.banner.quick { background: #FFF4D6; color: #6B4A00; }
.url { overflow-wrap: anywhere; }
.glance { display: grid; grid-template-columns: repeat(auto-fill, minmax(260px, 1fr));
  gap: 12px; margin: 12px 0 8px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card h3 { margin: 0 0 2px; font-size: 17px; }
.card p { margin: 6px 0 0; }
.card .what { font-weight: 700; }
.card .why, .card .fine { display: block; color: var(--muted); font-size: 13px; }
.ok { color: var(--pass); } .bad { color: var(--fail); } .none { color: var(--muted); }
.scroll { max-width: 100%; overflow-x: auto; margin: 8px 0 18px; }
.scroll > table { margin: 0; }
table { border-collapse: collapse; margin: 8px 0 18px; }
th, td { border: 1px solid var(--line); padding: 6px 10px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td .spread { display: block; color: var(--muted); font-size: 12.5px; white-space: nowrap; }
td .few { display: block; color: var(--fail); font-size: 12.5px; }
table.brokers { width: 100%; }
table.brokers td.features { font-size: 13px; min-width: 14em; }
table.matrix { width: 100%; }
table.matrix th.semantic-col { min-width: 12em; }
table.matrix td.cell { min-width: 7.5em; }
table.matrix tr.category th { background: #fff; border-left: none; border-right: none;
  font-size: 13px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted);
  padding-top: 16px; }
td.semantic .explain { display: block; color: var(--muted); font-size: 12.5px; }
.cell.pass { background: var(--pass-bg); } .cell.pass .verdict { color: var(--pass); }
.cell.fail { background: var(--fail-bg); } .cell.fail .verdict { color: var(--fail); }
.cell.unsupported { background: var(--na-bg); } .cell.unsupported .verdict { color: var(--na); }
.cell.notrun .verdict, .cell.skipped .verdict { color: var(--muted); }
.verdict { font-weight: 700; }
.note { display: block; font-size: 12.5px; color: var(--ink); }
th .note.url { font-weight: normal; color: var(--muted); }
.message { display: block; font-size: 12px; color: var(--fail); max-width: 260px;
  overflow-wrap: anywhere; }
.status-ok { color: var(--pass); font-weight: 700; }
.status-bad { color: var(--fail); font-weight: 700; }
.differs { max-width: 900px; font-size: 14px; }
.charts { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
.chart-box { border: 1px solid var(--line); border-radius: 8px; padding: 6px; background: #fff;
  max-width: 100%; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg.chart.narrow { display: none; }
svg.chart text { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; }
svg.spark { vertical-align: middle; margin-left: 4px; }
code { background: var(--soft); padding: 1px 4px; border-radius: 4px; font-size: 13px; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
@media (max-width: BREAKPOINTpx) {
  svg.chart.wide { display: none; }
  svg.chart.narrow { display: block; width: 100%; max-width: 480px; }
  .chart-box { width: 100%; }
}
@media (max-width: 600px) {
  main { padding: 12px 12px 32px; }
  h1 { font-size: 24px; }
  th, td { padding: 5px 6px; }
  table.matrix td.semantic { position: sticky; left: 0; background: #fff; z-index: 1;
    min-width: 10em; }
}
""".replace("BREAKPOINT", str(svg.BREAKPOINT))


def render(doc: dict[str, Any]) -> str:
    brokers: list[dict[str, Any]] = doc["brokers"]
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>anymq compare: {escape(', '.join(b['id'] for b in brokers))}</title>",
        f"<style>{CSS}</style></head><body><main>",
        _header(doc),
        _glance(doc),
        _brokers(doc),
        _behaviour(doc),
        _throughput(doc),
        _latency(doc),
        _settings(doc),
        "<footer>Generated by <code>anymq compare</code>. Every figure on this page is also in "
        "the JSON report written next to it.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts)


def _header(doc: dict[str, Any]) -> str:
    seconds = doc.get("seconds")
    took = f" · took {seconds:.0f} s" if isinstance(seconds, (int, float)) else ""
    out = [
        "<header><h1>anymq compare</h1>",
        f'<p class="sub">{escape(str(doc["started"]))}{took} · {len(doc["brokers"])} broker(s)'
        f" · Python {escape(doc['environment']['python'])} · anymq "
        f"{escape(doc['environment']['libraries'].get('anymq', '?'))}</p>",
        '<nav><a href="#glance">At a glance</a><a href="#brokers">Brokers</a>'
        '<a href="#behaviour">Behaviour</a>'
        '<a href="#throughput">Throughput</a><a href="#latency">Latency</a>'
        '<a href="#settings">Settings</a></nav></header>',
    ]
    if doc.get("interrupted"):
        out.append(
            '<p class="banner">This run was interrupted (Ctrl-C): the figures below are '
            "partial. Everything the run created on the brokers was removed.</p>"
        )
    if doc.get("leftovers"):
        items = "".join(f"<li>{escape(x)}</li>" for x in doc["leftovers"])
        out.append(
            f'<div class="banner">Could not remove what the run created:<ul>{items}</ul></div>'
        )
    return "\n".join(out)


def _glance(doc: dict[str, Any]) -> str:
    """The answers first: what each broker is, whether it lost anything, what anymq costs."""
    cards = []
    for line, b in zip(summary.lines(doc), doc["brokers"], strict=True):
        kind = line.kind or "not reached"
        cost_note = f'<span class="fine">{escape(line.cost_note)}</span>' if line.cost_note else ""
        mark = {"ok": "✓ ", "bad": "✗ "}.get(line.contract_verdict, "")
        cards.append(
            f'<div class="card" data-broker="{escape(b["id"])}"><h3>{escape(b["id"])}</h3>'
            f'<span class="fine url">{escape(b["url"])}</span>'
            f'<p><span class="what" data-kind="{escape(kind)}">{escape(kind)}</span>'
            f'<span class="why">{escape(line.kind_why)}</span></p>'
            f'<p>Loses nothing? <span class="{line.contract_verdict}" '
            f'data-verdict="{line.contract_verdict}">{mark}{escape(line.contract)}</span></p>'
            f"<p>anymq costs: {escape(line.cost)}{cost_note}</p></div>"
        )
    quick = summary.quick_note(doc)
    banner = f'<p class="banner quick">{escape(quick)}</p>' if quick else ""
    return (
        '<section id="glance"><h2>At a glance</h2>'
        '<p class="how"><b>How to read this:</b> per broker, whether it <b>keeps messages</b> '
        "after they are consumed (an <i>event broker</i>: a log that new groups and replays "
        "read) or removes them once acked (a <i>message broker</i>: a queue); whether it "
        "<b>loses nothing</b> (every contract test it was given passed); and what anymq "
        "<b>costs</b> there: its throughput as a share of the broker's own client "
        "(1.00\u00d7 = no overhead), with the range over rounds.</p>"
        f'{banner}<div class="glance">{"".join(cards)}</div></section>'
    )


def _brokers(doc: dict[str, Any]) -> str:
    rows = []
    for b in doc["brokers"]:
        ok = b["status"] == "ok"
        status = (
            '<span class="status-ok">reachable</span>'
            if ok
            else f'<span class="status-bad">{escape(b["status"])}</span>'
            f'<span class="note">{escape(b.get("reason") or "")}</span>'
        )
        caps = b.get("capabilities") or {}
        features = ", ".join(caps.get("features", [])) or "\u2013"
        limit = caps.get("max_message_bytes")
        rows.append(
            f'<tr><th>{escape(b["id"])}</th><td><code class="url">{escape(b["url"])}</code></td>'
            f"<td>{escape(b.get('backend') or NONE)}</td><td>{status}</td>"
            f'<td class="num">{svg.size(limit) if limit else NONE}</td>'
            f'<td class="features">{escape(features)}</td></tr>'
        )
    return (
        '<section id="brokers"><h2>Brokers compared</h2>'
        '<p class="how"><b>How to read this:</b> one row per broker URL (passwords are shown as '
        "<code>***</code>). A broker that did not answer within the connect timeout is marked "
        "<i>unreachable</i> and its columns below say <i>not run</i>. <i>Features</i> is what "
        "the backend declares; the behaviour matrix checks every declaration.</p>"
        '<div class="scroll"><table class="brokers"><tr><th>column</th><th>URL</th>'
        "<th>backend</th><th>status</th>"
        '<th class="num">largest message</th><th class="features">declared features</th></tr>'
        + "".join(rows)
        + "</table></div></section>"
    )


def _behaviour(doc: dict[str, Any]) -> str:
    brokers = doc["brokers"]
    rows: list[dict[str, Any]] = doc["semantics"]
    out = [
        '<section id="behaviour"><h2>Behaviour: what each broker guarantees</h2>',
        '<p class="how"><b>How to read this:</b> each row is one test of the anymq contract '
        "suite, run against each broker over a real connection. "
        '<span class="verdict" style="color:var(--pass)">✓ pass</span> means the broker '
        'behaves as described; <span class="verdict" style="color:var(--fail)">✗ fail</span> '
        "means it was tried and did not (the reason is shown); "
        '<span class="verdict" style="color:var(--na)">\u2013 not supported</span> means the '
        "backend does not declare the feature and anymq proved it refuses it loudly "
        "(<code>UnsupportedFeature</code>) instead of doing something else. Small print in a "
        "cell is what was observed: duplicates, how messages spread over partitions or "
        "members, how long a handover or trimming took.</p>",
    ]
    if not rows or all(b["behaviour"]["status"] == "not run" for b in brokers):
        out.append("<p>The behaviour part was not run (<code>--no-behaviour</code>).</p>")
        out.append("</section>")
        return "\n".join(out)
    for b in brokers:
        if b["behaviour"]["status"] == "error":
            out.append(
                f'<p class="banner">{escape(b["id"])}: the contract suite could not run: '
                f"{escape(b['behaviour'].get('detail') or 'no reason given')}</p>"
            )
    out.append('<div class="chart-box" style="display:inline-block">')
    out.append(_summary_chart(doc))
    out.append("</div>")
    header = "".join(
        f"<th title='{escape(b['url'])}'>{escape(b['id'])}"
        f"<span class='note url'>{escape(b['url'].split('?')[0])}</span></th>"
        for b in brokers
    )
    out.append(
        '<div class="scroll"><table class="matrix">'
        f'<tr><th class="semantic-col">semantic</th>{header}</tr>'
    )
    category = None
    for row in rows:
        if row["category"] != category:
            category = row["category"]
            span = len(brokers) + 1
            out.append(f'<tr class="category"><th colspan="{span}">{escape(category)}</th></tr>')
        needs = ", ".join(row.get("requires", []))
        explain = escape(row["explain"]) + (f" <i>Needs: {escape(needs)}.</i>" if needs else "")
        cells = "".join(_cell(row["cells"].get(b["id"], {})) for b in brokers)
        out.append(
            f'<tr data-test="{escape(row["test"])}"><td class="semantic"><b>'
            f'{escape(row["label"])}</b><span class="explain">{explain}</span></td>{cells}</tr>'
        )
    out.append("</table></div></section>")
    return "\n".join(out)


def _summary_chart(doc: dict[str, Any]) -> str:
    brokers = doc["brokers"]
    names = [b["id"] for b in brokers]
    counts: dict[str, list[float | None]] = {k: [] for k in RESULT_STYLE}
    for b in brokers:
        tally = dict.fromkeys(RESULT_STYLE, 0.0)
        for row in doc["semantics"]:
            result = row["cells"].get(b["id"], {}).get("result", "not run")
            tally[result] = tally.get(result, 0.0) + 1
        for key in RESULT_STYLE:
            counts[key].append(tally[key])
    colours = {
        "pass": svg.GREEN,
        "fail": svg.VERMILLION,
        "unsupported": svg.GREY,
        "skipped": svg.YELLOW,
        "not run": svg.LIGHT_GREY,
    }
    segments = [
        svg.Series(RESULT_STYLE[k][2], colours[k], counts[k])
        for k in RESULT_STYLE
        if any(counts[k])
    ]
    return svg.both(
        svg.stacked_bars,
        720,
        chart_id="behaviour-summary",
        title="Contract tests per broker",
        categories=names,
        segments=segments,
        x_label="number of contract tests (one per semantic)",
    )


def _cell(cell: dict[str, Any]) -> str:
    result = cell.get("result", "not run")
    css, symbol, word = RESULT_STYLE.get(result, RESULT_STYLE["not run"])
    parts = [f'<td class="cell {css}" data-result="{escape(result)}">']
    parts.append(f'<span class="verdict">{symbol}\u00a0{word}</span>')
    observed = cell.get("observed", {})
    for note, (key, value) in zip(cell.get("notes", []), observed.items(), strict=False):
        chart = ""
        if key in semantics.SPREADS and isinstance(value, list) and value:
            numbers = [float(v) for v in value if isinstance(v, (int, float))]
            chart = svg.spark(numbers, svg.BLUE, title=note)
        parts.append(f'<span class="note">{escape(note)}{chart}</span>')
    if result == "fail" and cell.get("message"):
        parts.append(f'<span class="message">{escape(cell["message"])}</span>')
    if result == "not run" and cell.get("why"):
        parts.append(f'<span class="note">{escape(cell["why"])}</span>')
    parts.append("</td>")
    return "".join(parts)


def _measured(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in doc["brokers"] if (b["performance"].get("anymq") or {}).get("produce_rate")]


def _throughput(doc: dict[str, Any]) -> str:
    out = [
        '<section id="throughput"><h2>Performance: throughput</h2>',
        '<p class="how"><b>How to read this:</b> the same standard workload runs on each broker '
        "twice, through anymq and through the broker's own client library (the raw "
        "baseline), alternating rounds; each figure is the median round. <b>Produce</b> is "
        "messages per second sent and confirmed by the broker; <b>consume</b> is messages per "
        "second a consumer group drains and acknowledges. Higher is better. The first chart "
        "shows anymq as a share of the raw client on the same broker: <b>1.00\u00d7 means no "
        "overhead</b>, 0.50\u00d7 means half the raw client's rate. Compare brokers by their "
        "ratios, not their absolute rates: a local emulator or a loaded machine changes the "
        "rates, not what anymq adds.</p>",
    ]
    measured = _measured(doc)
    if not measured:
        out.append("<p>No performance figures (not run, or no broker could be measured).</p>")
        out.append(_unmeasured(doc))
        out.append("</section>")
        return "\n".join(out)
    names = [b["id"] for b in measured]
    ratios = [b["performance"]["ratios"] for b in measured]
    out.append('<div class="chart-box" style="display:inline-block">')
    out.append(
        svg.both(
            svg.horizontal_bars,
            720,
            chart_id="overhead",
            title="anymq throughput as a share of the raw client (1.00\u00d7 = no overhead)",
            categories=names,
            series=[
                svg.Series("produce", svg.BLUE, [r.get("produce") for r in ratios]),
                svg.Series("consume", svg.SKY, [r.get("consume") for r in ratios]),
            ],
            x_label="anymq rate ÷ raw client rate on the same broker",
            reference=1.0,
            reference_label="raw client",
        )
    )
    out.append("</div><div class='charts'>")
    for b in measured:
        perf = b["performance"]
        ours, raw = perf["anymq"], perf.get("raw") or {}
        out.append('<div class="chart-box">')
        out.append(
            svg.both(
                svg.grouped_bars,
                520,
                chart_id=f"throughput-{b['id']}",
                title=f"{b['id']}: messages per second (higher is better)",
                categories=["produce", "consume"],
                series=[
                    svg.Series(
                        "anymq", svg.BLUE, [ours.get("produce_rate"), ours.get("consume_rate")]
                    ),
                    svg.Series(
                        _raw_name(raw),
                        svg.ORANGE,
                        [raw.get("produce_rate"), raw.get("consume_rate")],
                    ),
                ],
                y_label="messages per second",
            )
        )
        out.append("</div>")
    out.append("</div>")
    out.append(_rate_table(measured))
    out.append(_unmeasured(doc))
    out.append("</section>")
    return "\n".join(out)


def _raw_name(raw: dict[str, Any]) -> str:
    return f"raw: {summary.raw_label(raw)}"


def _ratio_cell(detail: dict[str, Any] | None) -> str:
    """A ratio with its sample size and spread over rounds; a hidden one says why."""
    detail = detail or {}
    value = detail.get("value")
    if value is None:
        note = detail.get("note")
        few = f'<span class="few">{escape(note)}</span>' if note else ""
        return f'<td class="num" data-n="{detail.get("n", 0)}">{NONE}{few}</td>'
    n, unit = detail.get("n", 0), detail.get("unit", "rounds")
    low, high = detail.get("min"), detail.get("max")
    spread = f"n={n} {unit[:-1] if n == 1 else unit}"
    if low is not None and high is not None:
        spread = f"{svg.ratio(low)}\u2013{svg.ratio(high)}, {spread}"
    return (
        f'<td class="num" data-n="{n}">{svg.ratio(value)}'
        f'<span class="spread">{escape(spread)}</span></td>'
    )


def _differs(measured: list[dict[str, Any]]) -> str:
    notes = [
        f'<p class="differs"><b>{escape(b["id"])}</b>: anymq and '
        f"{escape(summary.raw_label(b['performance'].get('raw')))} do not do the same work: "
        f"{escape(b['performance']['raw']['differs'])}.</p>"
        for b in measured
        if (b["performance"].get("raw") or {}).get("differs")
    ]
    return "".join(notes)


def _rate_table(measured: list[dict[str, Any]]) -> str:
    rows = []
    for b in measured:
        perf = b["performance"]
        ours, raw = perf["anymq"], perf.get("raw") or {}
        detail = perf.get("ratio_detail") or {}

        def rate(side: dict[str, Any], key: str) -> str:
            value = side.get(key)
            return f"{value:,.0f}" if value else "\u2013"

        rows.append(
            f"<tr><th>{escape(b['id'])}</th>"
            f'<td class="num">{rate(ours, "produce_rate")}</td>'
            f'<td class="num">{rate(raw, "produce_rate")}</td>'
            f"{_ratio_cell(detail.get('produce'))}"
            f'<td class="num">{rate(ours, "consume_rate")}</td>'
            f'<td class="num">{rate(raw, "consume_rate")}</td>'
            f"{_ratio_cell(detail.get('consume'))}"
            f"<td>{escape(raw.get('client') or perf.get('detail') or NONE)}</td></tr>"
        )
    return (
        '<div class="scroll"><table class="rates"><tr><th>broker</th>'
        '<th class="num">produce: anymq msg/s</th><th class="num">raw msg/s</th>'
        '<th class="num">anymq ÷ raw</th>'
        '<th class="num">consume: anymq msg/s</th><th class="num">raw msg/s</th>'
        '<th class="num">anymq ÷ raw</th><th>raw client</th></tr>'
        + "".join(rows)
        + "</table></div>"
        + _differs(measured)
    )


def _unmeasured(doc: dict[str, Any]) -> str:
    items = []
    for b in doc["brokers"]:
        perf = b["performance"]
        if b["status"] != "ok":
            items.append(f"<li><b>{escape(b['id'])}</b>: {escape(b['status'])}, not measured</li>")
        elif perf["status"] in ("error", "interrupted"):
            detail = perf.get("detail") or perf["status"]
            items.append(f"<li><b>{escape(b['id'])}</b>: {escape(detail)}</li>")
        elif perf["status"] == "partial":
            raw = perf.get("raw") or {}
            why = perf.get("detail") or "; ".join(raw.get("errors", [])) or "raw side failed"
            items.append(f"<li><b>{escape(b['id'])}</b>: no raw baseline: {escape(why)}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else ""


def _latency(doc: dict[str, Any]) -> str:
    out = [
        '<section id="latency"><h2>Performance: end-to-end latency</h2>',
        '<p class="how"><b>How to read this:</b> one message is sent, the next only after a '
        "consumer received it, so each sample is one unloaded trip from <code>send</code> to "
        "the consumer, in milliseconds. Each chart shows how the samples spread: the "
        "horizontal axis is logarithmic (every step right is slower), the height is the share "
        "of messages in that band. Bars to the left are better; a long tail to the right "
        "means occasional slow messages. Dashed lines mark the median (p50) and the p99 (99 % "
        "of messages were at least this fast), blue for anymq and orange for the raw client; "
        "the table gives p50, p95 and p99 and the ratio "
        "anymq ÷ raw (1.00\u00d7 = just as fast, 2.00\u00d7 = twice as long).</p>",
    ]
    measured = [
        b for b in _measured(doc) if (b["performance"]["anymq"].get("latency_ms") or {}).get("p50")
    ]
    if not measured:
        out.append("<p>No latency figures.</p></section>")
        return "\n".join(out)
    out.append("<div class='charts'>")
    for b in measured:
        perf = b["performance"]
        ours, raw = perf["anymq"], perf.get("raw") or {}
        series = [svg.Series("anymq", svg.BLUE, ours.get("latency_histogram", []))]
        markers = [
            ("p50", ours["latency_ms"]["p50"], svg.BLUE),
            ("p99", ours["latency_ms"]["p99"], svg.BLUE),
        ]
        raw_lat = raw.get("latency_ms") or {}
        if raw.get("latency_histogram") and raw_lat.get("p50"):
            series.append(svg.Series(_raw_name(raw), svg.ORANGE, raw["latency_histogram"]))
            markers += [
                ("p50", raw_lat["p50"], svg.DARK_ORANGE),
                ("p99", raw_lat["p99"], svg.DARK_ORANGE),
            ]
        out.append('<div class="chart-box">')
        out.append(
            svg.both(
                svg.log_histogram,
                520,
                chart_id=f"latency-{b['id']}",
                title=f"{b['id']}: end-to-end latency (left is better)",
                edges=perf.get("histogram_edges_ms", []),
                series=series,
                x_label="milliseconds from send to receive (log scale)",
                y_label="share of messages",
                markers=markers,
            )
        )
        out.append("</div>")
    out.append("</div>")
    rows = []
    for b in measured:
        perf = b["performance"]
        ours, raw = perf["anymq"]["latency_ms"], (perf.get("raw") or {}).get("latency_ms") or {}
        detail = perf.get("ratio_detail") or {}
        cells = ""
        for q in ("p50", "p95", "p99"):
            ratio = detail.get(f"latency_{q}") or {}
            hidden = ratio.get("value") is None and ratio.get("note")
            mine = svg.ms(ours[q]) if ours.get(q) and not hidden else NONE
            theirs = svg.ms(raw[q]) if raw.get(q) and not hidden else NONE
            cells += f'<td class="num">{mine}</td><td class="num">{theirs}</td>{_ratio_cell(ratio)}'
        rows.append(f"<tr><th>{escape(b['id'])}</th>{cells}</tr>")
    head = "".join(
        f'<th class="num">{q} anymq ms</th><th class="num">{q} raw ms</th>'
        f'<th class="num">{q} anymq ÷ raw</th>'
        for q in ("p50", "p95", "p99")
    )
    out.append(
        f'<div class="scroll"><table class="latency"><tr><th>broker</th>{head}</tr>'
        f"{''.join(rows)}</table></div></section>"
    )
    return "\n".join(out)


def _settings(doc: dict[str, Any]) -> str:
    settings, env = doc["settings"], doc["environment"]
    workload = settings["workload"]
    explain = {
        "size": "bytes per message body",
        "count": "messages per round for the produce and consume rates",
        "producers": "producers sending at the same time",
        "consumers": "members of the consumer group",
        "partitions": "partitions of the topic (where the broker has partitions)",
        "batch": "messages per send_batch call",
        "prefetch": "messages a consumer asks for at once",
        "latency_samples": "messages sent one at a time for latency (after a warm-up)",
        "rounds": "rounds per side, alternating anymq and raw",
        "phase_timeout": "seconds a phase may take before it counts as failed",
    }
    rows = "".join(
        f"<tr><th>{escape(k)}</th><td class='num'>{escape(str(v))}</td>"
        f"<td>{escape(explain.get(k, ''))}</td></tr>"
        for k, v in workload.items()
    )
    per_broker = "".join(
        f"<tr><th>{escape(b['id'])}</th><td>{escape(_plan_text(b['performance']['workload']))}"
        f"</td><td>{escape(((b['performance'].get('raw') or {}).get('description')) or NONE)}"
        "</td></tr>"
        for b in doc["brokers"]
        if b["performance"].get("workload")
    )
    libraries = "".join(
        f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in env["libraries"].items()
    )
    return (
        '<section id="settings"><h2>Settings and environment</h2>'
        '<p class="how"><b>How to read this:</b> the workload every broker ran (per broker, '
        "partitions are limited to what it has and some brokers use smaller counts, see the "
        "second table), what the raw baseline does on each broker, and the versions and "
        "machine the figures come from. Figures from different machines are not comparable; "
        "ratios mostly are.</p>"
        f'<h3>Standard workload</h3><div class="scroll"><table>{rows}</table></div>'
        '<h3>Per broker</h3><div class="scroll"><table><tr><th>broker</th><th>as run</th>'
        f"<th>raw baseline</th></tr>{per_broker}</table></div>"
        '<h3>Environment</h3><div class="scroll"><table><tr><th>python</th><td>'
        f"{escape(env['python'])} "
        f"({escape(env['implementation'])})</td></tr><tr><th>platform</th>"
        f"<td>{escape(env['platform'])}</td></tr><tr><th>CPUs</th><td>{env['cpus']}</td></tr>"
        f"{libraries}</table></div></section>"
    )


def _plan_text(plan: dict[str, Any]) -> str:
    return (
        f"{plan.get('count')} \u00d7 {plan.get('size')} B, {plan.get('producers')} producer(s), "
        f"{plan.get('consumers')} consumer(s), {plan.get('partitions')} partition(s), "
        f"batch {plan.get('batch')}, prefetch {plan.get('prefetch')}, "
        f"{plan.get('latency_samples')} latency samples, {plan.get('rounds')} round(s) per side"
    )
