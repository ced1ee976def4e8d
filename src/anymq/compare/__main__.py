"""``python -m anymq.compare [URL ...]``: the same as ``anymq compare``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from anymq.compare.cli import configure, description, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m anymq.compare",
        description=description(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    configure(parser)
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
