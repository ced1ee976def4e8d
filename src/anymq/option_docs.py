"""Keep the option tables in the docs equal to the backends' declarations.

A page marks each generated table with ``<!-- options: SCHEME -->`` ... ``<!-- /options -->``;
``python -m anymq.option_docs`` rewrites the tables from the declarations and
``--check`` exits 1 when a committed table differs (a test runs the same check).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

from anymq import plugins
from anymq.options import markdown_table

PAGES = (
    "docs/configuration.md",
    "docs/backends/kafka.md",
    "docs/backends/rabbitmq.md",
    "docs/backends/sqs.md",
    "docs/backends/redis.md",
    "docs/backends/nats.md",
)
_BLOCK = re.compile(r"(<!-- options: ([a-z0-9+.-]+) -->\n)(.*?)(<!-- /options -->)", re.DOTALL)


def update(text: str) -> str:
    """``text`` with every marked table generated again from the declarations."""

    def table(match: re.Match[str]) -> str:
        declared = plugins.load_options(match.group(2))
        body = markdown_table(declared) if declared is not None else ""
        return f"{match.group(1)}\n{body}\n{match.group(4)}"

    return _BLOCK.sub(table, text)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    root = Path(__file__).resolve().parents[2]
    stale = []
    for page in PAGES:
        path = root / page
        text = path.read_text(encoding="utf-8")
        new = update(text)
        if new != text:
            stale.append(page)
            if not check:
                path.write_text(new, encoding="utf-8")
    if stale:
        verb = "differ from the declarations" if check else "rewritten"
        print(f"option tables {verb}: {', '.join(stale)}")
    return 1 if check and stale else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
