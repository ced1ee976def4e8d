"""The collector's own rules: which blocks run where, and what it rewrites."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.docs import blocks as docblocks
from tests.docs.blocks import ROOT, blocks, prepare


def _page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> Path:
    monkeypatch.setattr(docblocks, "ROOT", tmp_path)
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_brokers_come_from_the_marker_the_page_or_the_urls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (
        "```python\nx = 1\n```\n"
        '```python\nanymq.connect("amqp://h/")\n```\n'
        "<!-- run on: memory sqs | prints: 1 -->\n```python\nprint(1)\n```\n"
        "<!-- not run: a sketch -->\n```python\n...\n```\n"
        "```bash\nls\n```\n"
    )
    found = blocks(_page(tmp_path, monkeypatch, "docs/guide.md", text))
    assert [(b.line, b.brokers, b.skip, b.prints) for b in found] == [
        (1, ("memory",), None, None),
        (4, ("rabbitmq",), None, None),
        (8, ("memory", "sqs"), None, "1"),
        (12, (), "a sketch", None),
    ]
    on_page = blocks(_page(tmp_path, monkeypatch, "docs/backends/kafka.md", text))
    assert on_page[0].brokers == ("kafka",)


@pytest.mark.parametrize(
    "marker", ["<!-- not run: -->", "<!-- run on: mqtt -->", "<!-- runs: memory -->"]
)
def test_a_bad_marker_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marker: str
) -> None:
    path = _page(tmp_path, monkeypatch, "README.md", f"{marker}\n```python\nx = 1\n```\n")
    with pytest.raises(ValueError, match=r"README\.md:2"):
        blocks(path)


def test_test_broker_urls_are_replaced_and_names_made_unique() -> None:
    code = (
        'async with anymq.connect("kafka://k1:9092,k2:9092") as b:\n'
        '    await b.create_topic("orders")\n'
        '    c = b.consumer("orders", group="billing")\n'
        '    anymq.connect("kafka+ssl://k1:9093")\n'
        '    print("orders", "memory://x")\n'
    )
    out, topics = prepare(code, "kafka", "kafka://127.0.0.1:9092")
    [topic] = topics
    assert topic.startswith("orders-")
    suffix = topic.removeprefix("orders")
    assert out.splitlines() == [
        "async with anymq.connect('kafka://127.0.0.1:9092') as b:",
        f"    await b.create_topic('{topic}')",
        f"    c = b.consumer('{topic}', group='billing{suffix}')",
        '    anymq.connect("kafka+ssl://k1:9093")',
        f"    print('{topic}', 'kafka://127.0.0.1:9092')",
    ]
    on_memory, _ = prepare('anymq.connect("memory://x")\n', "memory", "memory://")
    assert on_memory == 'anymq.connect("memory://x")\n'


def test_every_page_parses() -> None:
    assert sum(len(blocks(path)) for path in docblocks.pages()) > 0
    assert ROOT.joinpath("README.md").exists()
