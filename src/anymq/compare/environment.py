"""Where the figures were measured: versions and machine, so two reports can be compared."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import Any

from anymq.compare.profile import profiles


def libraries() -> tuple[str, ...]:
    """anymq, every backend's client distributions (from its compare profile), the tools."""
    clients = dict.fromkeys(c for p in profiles().values() for c in p.clients)
    return ("anymq", *clients, "pytest", "rich")


def environment() -> dict[str, Any]:
    versions: dict[str, str] = {}
    for name in libraries():
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "libraries": versions,
    }
