"""``python -m anymq``: the ``anymq`` command, for environments without the console script
on PATH (a virtualenv not activated, ``pipx run``, a container's python)."""

from __future__ import annotations

import sys

from anymq.cli import main

if __name__ == "__main__":
    sys.exit(main())
