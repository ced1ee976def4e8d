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
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

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
                f"'kafka://127.0.0.1:9092'; got {_shown(text)}"
            )
        scheme, rest = text.split("://", 1)
        scheme = scheme.lower()
        if not scheme or not all(c.isalnum() or c in "+-." for c in scheme):
            raise ConfigError(
                f"invalid URL scheme {_shown(scheme)}: use letters, digits, '+', '-' or '.' "
                "before '://'"
            )
        where = f"'{scheme}://…'"
        _check_unambiguous(rest, where)
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
        hosts = tuple(
            _parse_host(part, where, userinfo=username is not None or password is not None)
            for part in netloc.split(",")
            if part
        )
        try:
            query = dict(parse_qsl(query_text, keep_blank_values=True, strict_parsing=False))
        except ValueError as exc:  # pragma: no cover - parse_qsl is lenient
            raise ConfigError(f"invalid query string in broker URL {where}") from exc
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
            secrets = declared_secrets(self.scheme) if hide_password else frozenset()
            out += "?" + urlencode(
                {k: (_masked(k, v, secrets) if hide_password else v) for k, v in self.query.items()}
            )
        return out

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"URL({self.render()!r})"


_ENCODE_HINT = (
    "a password containing '/', '?', '#' or '@' must be percent-encoded: "
    "use urllib.parse.quote(password, safe='')"
)


def _check_unambiguous(rest: str, where: str) -> None:
    """Refuse an '@' after the host that may end a password holding an unencoded '/' or '?'.

    ``amqp://guest:12345/pw@host`` reads as host ``guest`` port ``12345`` with the path
    ``pw@host`` under the URL spec: the rest of the password would be shown as the path.
    """
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, remainder = rest[:cut], rest[cut:]
    if "@" in authority or ":" not in authority.rpartition("]")[2] or "@" not in remainder:
        return
    path, _, query = remainder.partition("?")
    before_at = query.partition("@")[0] if "@" not in path else ""
    if "@" in path or ("@" in query and not any(c in before_at for c in "=&")):
        raise ConfigError(
            f"broker URL {where} is ambiguous: an '@' follows a '/' or '?' after the host, so "
            f"the host cannot be told from a password; {_ENCODE_HINT} (write an '@' that "
            "belongs to the path or an option as %40)"
        )


def _parse_host(part: str, where: str, *, userinfo: bool) -> tuple[str, int | None]:
    if part.startswith("["):  # IPv6 literal
        host, closed, after = part[1:].partition("]")
        if not closed or (after and not after.startswith(":")) or ":" not in host:
            raise ConfigError(
                f"invalid host in broker URL {where}: an IPv6 address goes in brackets, "
                "[address] or [address]:port (e.g. [::1]:5672)"
            )
        port_text = after[1:]
    else:
        host, _, port_text = part.partition(":")
    if not port_text:
        return host, None
    # Never echo the port text: without user info it may be a password (amqp://user:pw).
    hint = "" if userinfo else f" (credentials go in user:password@host; {_ENCODE_HINT})"
    if not port_text.isdigit():
        raise ConfigError(
            f"invalid port in broker URL {where} for host {host!r}: the port is not a number{hint}"
        )
    if not 0 < int(port_text) < 65536:
        raise ConfigError(
            f"invalid port in broker URL {where} for host {host!r}: the port must be between "
            f"1 and 65535{hint}"
        )
    return host, int(port_text)


def _host_text(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def address(host: str, port: int | None = None) -> str:
    """``host:port`` as URLs and messages write it: an IPv6 address in brackets."""
    return _host_text(host) if port is None else f"{_host_text(host)}:{port}"


def _option_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_SECRET_WORDS = ("password", "passwd", "secret", "token", "credential", "sasl_plain")


def declared_secrets(scheme: str) -> frozenset[str]:
    """The options the backend for ``scheme`` declares secret (``Option(secret=True)``).

    Empty when no backend serves the scheme or its declarations cannot be loaded: the
    name-based rule below still masks what looks like a secret.
    """
    from anymq import plugins
    from anymq.errors import AnyMQError

    try:
        declared = plugins.load_options(scheme)
    except (AnyMQError, ImportError):
        return frozenset()
    return frozenset() if declared is None else declared.secrets()


def _secret_key(key: str, secrets: frozenset[str] = frozenset()) -> bool:
    lowered = key.lower()
    return key in secrets or any(word in lowered for word in _SECRET_WORDS)


def _masked(key: str, value: str, secrets: frozenset[str] = frozenset()) -> str:
    """An option value as it may be shown: secrets (declared, or named like one) masked,
    nested URLs without password."""
    if _secret_key(key, secrets):
        return _MASK
    return mask_url_password(value)


def mask_url_password(value: str) -> str:
    """``value`` with the password of a URL in it masked (``http://u:***@host``), and the
    values of secret-named keys in that URL's own query (``?password=***``).

    Conservative: when an unencoded '/' or '?' makes the user info ambiguous, everything up
    to the last '@' is masked.
    """
    scheme, sep, rest = value.partition("://")
    if not sep:
        return value
    rest = _mask_nested_query(rest)
    if "@" not in rest:
        return f"{scheme}://{rest}"
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    end = rest.rfind("@", 0, cut) if "@" in rest[:cut] else rest.rfind("@")
    userinfo = rest[:end]
    if ":" not in userinfo:
        return f"{scheme}://{rest}"
    return f"{scheme}://{userinfo.partition(':')[0]}:{_MASK}{rest[end:]}"


def secret_values(url: URL) -> list[str]:
    """Every secret in ``url``, for masking text that may quote one (a library's error):
    the password, secret options (declared or named like one), and the password and
    secret-named query values of a URL given as an option (``endpoint_url=``)."""
    secrets = declared_secrets(url.scheme)
    found = [url.password or ""]
    for key, value in url.query.items():
        if _secret_key(key, secrets):
            found.append(value)
        elif "://" in value:
            nested = urlsplit(value)
            found.append(unquote(nested.password or ""))
            found += [v for k, v in parse_qsl(nested.query) if _secret_key(k)]
    return [secret for secret in found if secret]


def _mask_nested_query(rest: str) -> str:
    """``host/path?query#fragment`` with secret-named query values masked."""
    head, sep, query = rest.partition("?")
    if not sep:
        return rest
    query, hash_, fragment = query.partition("#")
    items = []
    for item in query.split("&"):
        key, eq, _ = item.partition("=")
        items.append(f"{key}={_MASK}" if eq and _secret_key(unquote(key)) else item)
    return f"{head}?{'&'.join(items)}{hash_}{fragment}"


def _shown(text: object) -> str:
    """Text of a URL we could not parse, cut before any ':' or '@' so no password shows."""
    if not isinstance(text, str):
        return f"a {type(text).__name__}"
    cut = min((i for i in (text.find(":"), text.find("@")) if i >= 0), default=-1)
    if cut < 0:
        return repr(text)
    return repr(text[:cut] + "…") + " (the rest is not shown: it may hold a password)"
