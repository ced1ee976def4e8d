"""Where the figures were measured: versions and machine, so two reports can be compared."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from typing import Any

LIBRARIES = ("anymq", "aiokafka", "aio-pika", "aiormq", "aiobotocore", "botocore", "pytest", "rich")


def environment() -> dict[str, Any]:
    versions: dict[str, str] = {}
    for name in LIBRARIES:
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
