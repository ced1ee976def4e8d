"""The option tables in the docs are generated from the declarations and must not drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from anymq import option_docs

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("page", option_docs.PAGES)
def test_option_tables_match_the_declarations(page: str) -> None:
    text = (ROOT / page).read_text(encoding="utf-8")
    assert "<!-- options: " in text, f"{page} has no generated option table"
    assert option_docs.update(text) == text, (
        f"{page}: an option table differs from the declarations; run "
        "`python -m anymq.option_docs` and commit the result"
    )


def test_a_stale_table_is_found() -> None:
    stale = "<!-- options: memory -->\n| option |\n<!-- /options -->\n"
    assert "auto_create_topics" in option_docs.update(stale)
