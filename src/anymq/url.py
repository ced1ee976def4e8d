"""Immutable broker URLs that never show their password.

``URL.parse("amqp://user:secret@host:5672/vh?prefetch=10")`` splits a broker address into
scheme, credentials, hosts, path and options. ``str()`` and ``repr()`` render the password
as ``***`` so a URL can be logged or put in an error message safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from anymq.errors import ConfigError

_MASK = "***"


@dataclass(frozen=True, slots=True)
class URL:
    """A parsed broker URL: ``scheme://[user[:password]@]host[:port][,host[:port]…][/path][?k=v]``."""

    scheme: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    hosts: tuple[tuple[str, int | None], ...] = ()
    path: str = ""
    query: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def parse(cls, text: str | URL) -> URL:
        """Parse a URL string; raises ConfigError naming the part that is wrong."""
        if isinstance(text, URL):
            return text
        if not isinstance(text, str) or "://" not in text:
            raise ConfigError(
                f"broker URL must look like 'scheme://host:port', e.g. 'memory://' or "
                f"'kafka://127.0.0.1:9092'; got {_redact_raw(text)!r}"
            )
        scheme, rest = text.split("://", 1)
        scheme = scheme.lower()
        if not scheme or not all(c.isalnum() or c in "+-." for c in scheme):
            raise ConfigError(f"invalid URL scheme {scheme!r} in {_redact_raw(text)!r}")
        query_text = ""
        if "?" in rest:
            rest, query_text = rest.split("?", 1)
        netloc, slash, path = rest.partition("/")
        username = password = None
        if "@" in netloc:
            userinfo, netloc = netloc.rsplit("@", 1)
            user, colon, pwd = userinfo.partition(":")
            username = unquote(user) or None
            password = unquote(pwd) if colon else None
        hosts = tuple(_parse_host(part, text) for part in netloc.split(",") if part)
        try:
            query = dict(parse_qsl(query_text, keep_blank_values=True, strict_parsing=False))
        except ValueError as exc:  # pragma: no cover - parse_qsl is lenient
            raise ConfigError(f"invalid query string in {_redact_raw(text)!r}") from exc
        return cls(
            scheme=scheme,
            username=username,
            password=password,
            hosts=hosts,
            path=unquote(path) if slash else "",
            query=MappingProxyType(query),
        )

    @property
    def host(self) -> str | None:
        """The first host, or None."""
        return self.hosts[0][0] if self.hosts else None

    @property
    def port(self) -> int | None:
        """The first host's port, or None."""
        return self.hosts[0][1] if self.hosts else None

    def with_query(self, **options: Any) -> URL:
        """A copy with options added or replaced (None removes an option)."""
        merged = dict(self.query)
        for key, value in options.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = _option_text(value)
        return replace(self, query=MappingProxyType(merged))

    def render(self, *, hide_password: bool = True) -> str:
        """The URL as text; the password is masked unless hide_password is False."""
        out = f"{self.scheme}://"
        if self.username is not None or self.password is not None:
            out += quote(self.username or "", safe="")
            if self.password is not None:
                out += ":" + (_MASK if hide_password else quote(self.password, safe=""))
            out += "@"
        out += ",".join(h if p is None else f"{_host_text(h)}:{p}" for h, p in self.hosts)
        if self.path:
            out += "/" + quote(self.path, safe="/")
        if self.query:
            out += "?" + urlencode(
                {
                    k: (_MASK if _secret_key(k) and hide_password else v)
                    for k, v in self.query.items()
                }
            )
        return out

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"URL({self.render()!r})"


def _parse_host(part: str, text: str) -> tuple[str, int | None]:
    if part.startswith("["):  # IPv6 literal
        host, _, port_text = part[1:].partition("]")
        port_text = port_text.lstrip(":")
    else:
        host, _, port_text = part.partition(":")
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"invalid port {port_text!r} in broker URL {_redact_raw(text)!r}")
    return host, int(port_text)


def _host_text(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _option_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _secret_key(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in ("password", "secret", "token", "sasl_plain"))


def _redact_raw(text: object) -> str:
    """Mask a password in a URL we could not parse, so errors never echo it."""
    if not isinstance(text, str):
        return type(text).__name__
    if "://" in text and "@" in text:
        scheme, rest = text.split("://", 1)
        userinfo, _, host = rest.rpartition("@")
        user = userinfo.partition(":")[0]
        return f"{scheme}://{user}:{_MASK}@{host}"
    return text
