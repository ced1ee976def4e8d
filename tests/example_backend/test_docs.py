"""Every ``python`` block of docs/plugins.md runs, each on its own (a walkthrough whose
snippets do not run teaches the wrong interface)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks() -> list[str]:
    return BLOCK.findall(DOCS.read_text(encoding="utf-8"))


def test_the_walkthrough_has_its_examples() -> None:
    assert len(blocks()) >= 8


@pytest.mark.parametrize("number", range(len(blocks())))
def test_docs_block_runs(number: int) -> None:
    code = blocks()[number]
    exec(compile(code, f"{DOCS.name} block {number + 1}", "exec"), {"__name__": "docs_example"})
