"""The collector's own rules: which blocks run where, and what it rewrites."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import pytest

import anymq
from tests.docs import blocks as docblocks
from tests.docs import test_examples
from tests.docs.blocks import ROOT, Block, blocks, prepare


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
        "```sh\nanymq demo --url 'sqs://h?region=x' # amqp://h/ in a comment: a word too\n```\n"
        "<!-- not run: installs packages -->\n```bash\npip install anymq\n```\n"
        "```console\n$ anymq backends\nscheme backend\n```\n"
        "```text\nkafka://h:9092\n```\n"
    )
    found = blocks(_page(tmp_path, monkeypatch, "docs/guide.md", text))
    assert [(b.line, b.brokers, b.skip, b.prints, b.language) for b in found] == [
        (1, ("memory",), None, None, "python"),
        (4, ("rabbitmq",), None, None, "python"),
        (8, ("memory", "sqs"), None, "1", "python"),
        (12, (), "a sketch", None, "python"),
        (15, ("memory",), None, None, "bash"),
        (18, ("rabbitmq", "sqs"), None, None, "bash"),
        (22, (), "installs packages", None, "bash"),
        (25, ("memory",), None, None, "bash"),
    ]
    assert found[-1].code == "anymq backends\n"  # a console block: its $ lines
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


SQS = "sqs://127.0.0.1:4566?endpoint_url=http://127.0.0.1:4566&region=us-east-1"


def test_shell_blocks_get_the_test_url_quoted_and_unique_names() -> None:
    code = (
        "export ANYMQ_URL=kafka://localhost:9092\n"
        "anymq topics create orders --partitions 3\n"
        "seq 1 3 | anymq produce orders  # to orders\n"
        "anymq consume --start earliest orders --group=copier > orders.txt\n"
        "anymq -v consume orders --group copier --format json \\\n"
        "  | python -m anymq produce orders-copy --format json\n"
        "anymq groups describe orders billing; anymq backends --options --url amqp://\n"
        "anymq compare 'kafka://h:9092' kafka+ssl://k:9093 \"$ANYMQ_URL\" --help\n"
    )
    out, topics = prepare(code, "sqs", SQS, "bash")
    suffix = "-" + topics[0].rsplit("-", 1)[1]
    assert sorted(t.removesuffix(suffix) for t in topics) == ["orders", "orders-copy"]
    o, c, b, url = f"orders{suffix}", f"copier{suffix}", f"billing{suffix}", shlex.quote(SQS)
    assert out.splitlines() == [
        f"export ANYMQ_URL={url}",
        f"anymq topics create {o} --partitions 3",
        f"seq 1 3 | anymq produce {o}  # to {o}",
        f"anymq consume --start earliest {o} --group={c} > orders.txt",
        f"anymq -v consume {o} --group {c} --format json \\",
        f"  | python -m anymq produce orders-copy{suffix} --format json",
        f"anymq groups describe {o} {b}; anymq backends --options --url {url}",
        f'anymq compare {url} kafka+ssl://k:9093 "$ANYMQ_URL" --help',
    ]
    assert shlex.split(out.splitlines()[0]) == ["export", f"ANYMQ_URL={SQS}"]
    on_memory, _ = prepare("anymq demo --url memory://\n", "memory", "memory://", "bash")
    assert on_memory == "anymq demo --url memory://\n"


def _shell(code: str, tmp_path: Path) -> tuple[int | None, str, str]:
    env = test_examples._shell_env("memory", "memory://")
    return test_examples._run_shell(Block("x.md", 3, code, ("memory",)), code, tmp_path, env)


def test_a_shell_block_runs_this_checkout_with_the_broker_url(tmp_path: Path) -> None:
    code = (
        "anymq --version\n"
        "python -c 'import anymq; print(anymq.__file__)'\n"
        'echo "url=$ANYMQ_URL kafka=${ANYMQ_KAFKA_URL:-unset} $(pwd)"\n'
    )
    returncode, out, err = _shell(code, tmp_path)
    assert returncode == 0, err
    assert out.splitlines() == [
        f"anymq {anymq.__version__}",
        anymq.__file__,
        f"url=memory:// kafka=unset {tmp_path}",
    ]
    returncode, _, err = _shell("false | cat\necho never\n", tmp_path)
    assert returncode == 1  # pipefail and -e
    assert "+ line 4: false" in err  # the trace names the page's line


def test_a_hanging_shell_block_is_killed_with_its_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(test_examples, "SHELL_TIMEOUT", 1.0)
    started = time.monotonic()
    returncode, out, _ = _shell("echo $$\nsleep 300 | cat\n", tmp_path)
    assert returncode is None
    assert time.monotonic() - started < 30
    assert _running(int(out.split()[0])) == []  # nothing of the block's group is left


def _running(group: int) -> list[str]:
    """Processes of the group that still run (zombies not reaped by init do not count)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            found.append(stat.parent.name)
    return found
