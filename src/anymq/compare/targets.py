"""The brokers of a run: a short column id per URL and the URL shown without its password."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, unquote

from anymq.compare.profile import for_scheme
from anymq.url import URL, secret_values


@dataclass(frozen=True, slots=True)
class Target:
    """One broker under comparison. ``url`` keeps the password: never print it, use ``shown``."""

    id: str
    """Column name in tables and key in the JSON report: the kind, then ``<kind>-2`` ..."""
    url: str
    shown: str
    """The URL rendered by anymq.URL.render(): the password is ``***``."""
    scheme: str
    kind: str
    """The backend's ``CompareProfile.kind`` (its name), or the scheme of an unknown one."""

    def __repr__(self) -> str:
        return f"Target({self.id!r}, {self.shown!r})"

    def redact(self, text: str) -> str:
        """``text`` (an error message, a log) with this URL's password masked."""
        for secret in secret_values(URL.parse(self.url)):
            if len(secret) >= 3:
                for form in {secret, quote(secret, safe="")}:
                    text = text.replace(form, "***")
        return text


def targets(urls: Sequence[str]) -> list[Target]:
    """Targets for URLs, with unique ids (the kind, then ``-2``, ``-3`` for repeats)."""
    out: list[Target] = []
    used: dict[str, int] = {}
    for text in urls:
        parsed = URL.parse(text)
        profile = for_scheme(parsed.scheme)
        kind = profile.kind if profile is not None else parsed.scheme
        used[kind] = used.get(kind, 0) + 1
        ident = kind if used[kind] == 1 else f"{kind}-{used[kind]}"
        shown = unquote(parsed.render())  # masked first, then readable: "http://", not "http%3A"
        out.append(Target(ident, text, shown, parsed.scheme, kind))
    return out
