"""The answer first: per broker, what it is, whether it lost anything, what anymq costs.

Both the terminal and the HTML report open with this, drawn from the JSON document, so a
reader who stops after three lines still knows: which broker keeps messages after they are
consumed (an event broker, a log) and which removes them once acked (a message broker, a
queue); which passed every contract test (lost nothing, duplicated nothing it must not);
and anymq's throughput as a share of the broker's own client, with how far rounds differed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

KEEPS_TEST = "test_consumed_messages_are_kept_for_new_groups"
KEEPS_FEATURE = "retains_consumed"

EVENT = "event broker"
MESSAGE = "message broker"
KIND_WHY = {
    EVENT: "keeps messages after they are consumed: new groups and replays read them (a log)",
    MESSAGE: "removes a message once its group acked it (a queue)",
}


@dataclass(frozen=True, slots=True)
class Line:
    """One broker's answers; ``verdict`` is ok / bad / none for colour."""

    broker: str
    kind: str | None
    kind_why: str
    contract: str
    contract_verdict: str
    cost: str
    cost_note: str


def kind_of(doc: dict[str, Any], broker: dict[str, Any]) -> tuple[str | None, str]:
    """Event or message broker: from the contract test when it ran, else from what the
    backend declares, else unknown (an unreachable broker)."""
    for row in doc["semantics"]:
        if row["test"] == KEEPS_TEST:
            result = row["cells"].get(broker["id"], {}).get("result")
            if result == "pass":
                return EVENT, KIND_WHY[EVENT] + " (contract test passed)"
            if result == "unsupported":
                return MESSAGE, KIND_WHY[MESSAGE]
    features = (broker.get("capabilities") or {}).get("features")
    if features is None:
        return None, "unknown: the broker was not reached"
    kind = EVENT if KEEPS_FEATURE in features else MESSAGE
    return kind, KIND_WHY[kind] + " (declared, not tested)"


def contract(doc: dict[str, Any], broker: dict[str, Any]) -> tuple[str, str]:
    """What the contract suite says about losing nothing, and ok / bad / none."""
    if broker["status"] != "ok":
        return f"not tested: {broker['status']}", "bad"
    behaviour = broker["behaviour"]
    status = behaviour["status"]
    if status == "not run":
        return "not tested (--no-behaviour)", "none"
    if status == "error":
        detail = (behaviour.get("detail") or "no reason given").strip().splitlines()
        return f"the contract suite could not run: {detail[0]}", "bad"
    counts = behaviour["counts"]
    passed, failed, unsupported = counts["pass"], counts["fail"], counts["unsupported"]
    refused = f" ({unsupported} not supported: refused loudly)" if unsupported else ""
    if status == "interrupted":
        return f"interrupted after {passed + failed} tests ({failed} failed)", "bad"
    if failed:
        names = [
            row["label"]
            for row in doc["semantics"]
            if row["cells"].get(broker["id"], {}).get("result") == "fail"
        ]
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        return f"{failed} of {passed + failed} contract tests FAILED: {shown}", "bad"
    return f"all {passed} contract tests pass{refused}", "ok"


def ratio_text(detail: dict[str, Any] | None) -> str:
    """``0.93x (0.85-1.02 over 3 rounds)``; a dash and the note (n=10, too few for p99)
    when the ratio is hidden."""
    if not detail:
        return "\u2013"
    value = detail.get("value")
    if value is None:
        return f"\u2013 ({detail['note']})" if detail.get("note") else "\u2013"
    n, unit = detail.get("n", 0), detail.get("unit", "rounds")
    low, high = detail.get("min"), detail.get("max")
    if low is not None and high is not None:
        spread = f"{low:.2f}\u2013{high:.2f} over {n} {unit}"
        if unit == "samples":
            spread = f"rounds {low:.2f}\u2013{high:.2f}, n={n}"
        return f"{value:.2f}\u00d7 ({spread})"
    one = unit[:-1] if n == 1 else unit
    return f"{value:.2f}\u00d7 (n={n} {one})"


def raw_label(raw: dict[str, Any] | None) -> str:
    """The raw side's client name without its version (``asyncio.Queue (no broker)``)."""
    client = str((raw or {}).get("client") or "raw client")
    words = client.split(" ")
    if len(words) > 1 and words[-1][:1].isdigit():
        words = words[:-1]
    return " ".join(words)


def cost(broker: dict[str, Any]) -> tuple[str, str]:
    """anymq's throughput as a share of the raw client's, and what the ratio leaves out."""
    perf = broker["performance"]
    if broker["status"] != "ok":
        return "not measured", ""
    if perf["status"] == "not run":
        return "not measured (--no-performance)", ""
    detail = perf.get("ratio_detail") or {}
    raw = perf.get("raw")
    if not (detail.get("produce") or {}).get("value"):
        why = perf.get("detail") or perf["status"]
        return f"no ratio: {why}", ""
    text = (
        f"produce {ratio_text(detail.get('produce'))}, consume "
        f"{ratio_text(detail.get('consume'))} of {raw_label(raw)}"
    )
    return text, str((raw or {}).get("differs") or "")


def lines(doc: dict[str, Any]) -> list[Line]:
    out = []
    for broker in doc["brokers"]:
        kind, why = kind_of(doc, broker)
        said, verdict = contract(doc, broker)
        costs, note = cost(broker)
        out.append(Line(broker["id"], kind, why, said, verdict, costs, note))
    return out


def quick_note(doc: dict[str, Any]) -> str | None:
    """Why quick-mode ratios must not be read closely, or None for a full run."""
    if not doc["settings"].get("quick"):
        return None
    return (
        "Quick mode (--quick): a small workload, so ratios swing from run to run; the "
        "ranges show how far rounds differed. Run without --quick for figures to rely on."
    )
