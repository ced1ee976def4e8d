"""The entry-point module: names the driver, options and compare profile, imports nothing
heavy (``anymq backends`` loads it even where the driver could not run)."""

from __future__ import annotations

from anymq.hookspecs import BackendSpec, hookimpl

PACKAGE = "tests.example_backend.anymq_sqlite"


@hookimpl
def anymq_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            name="sqlite",
            schemes=("sqlite",),
            driver=f"{PACKAGE}.driver:SqliteBroker",
            options=f"{PACKAGE}.options:SqliteOptions",
            compare_profile=f"{PACKAGE}.profile:PROFILE",
            install_hint="use a Python built with the sqlite3 module",
            description="a message broker in one SQLite file: groups, fan-out, dead letters",
        )
    ]
