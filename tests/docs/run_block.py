"""Runs one Markdown code block (read from stdin) as a script: ``run_block.py PAGE LINE``.

Top-level ``await`` / ``async with`` run inside ``asyncio.run``, as in ``python -m asyncio``;
a block that calls ``asyncio.run`` itself runs as it is. Tracebacks name the page and line.
After ``$ANYMQ_DOCS_HANG`` seconds every task's stack goes to stderr, so a block that hangs
shows the line it waits on before the collector kills it.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import sys
from typing import Any


def _dump(loop: asyncio.AbstractEventLoop) -> None:
    print("--- still waiting; the tasks' stacks:", file=sys.stderr)
    for task in asyncio.all_tasks(loop):
        task.print_stack(file=sys.stderr)
    sys.stderr.flush()


class _Policy(asyncio.DefaultEventLoopPolicy):
    """Every loop the block starts (its own ``asyncio.run`` too) reports a hang."""

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        hang = os.environ.get("ANYMQ_DOCS_HANG")
        if hang:
            loop.call_later(float(hang), _dump, loop)
        return loop


def main() -> None:
    page, fence = sys.argv[1], int(sys.argv[2])
    source = "\n" * fence + sys.stdin.read()  # line numbers are the page's
    code = compile(source, page, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    asyncio.set_event_loop_policy(_Policy())
    if code.co_flags & inspect.CO_COROUTINE:
        asyncio.run(eval(code, namespace))
    else:
        exec(code, namespace)


if __name__ == "__main__":
    main()
