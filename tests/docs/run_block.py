"""Runs one Markdown code block (read from stdin) as a script: ``run_block.py PAGE LINE``.

Top-level ``await`` / ``async with`` run inside ``asyncio.run``, as in ``python -m asyncio``;
a block that calls ``asyncio.run`` itself runs as it is. Tracebacks name the page and line.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import sys
from typing import Any


def main() -> None:
    page, fence = sys.argv[1], int(sys.argv[2])
    source = "\n" * fence + sys.stdin.read()  # line numbers are the page's
    code = compile(source, page, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))
    else:
        exec(code, namespace)


if __name__ == "__main__":
    main()
