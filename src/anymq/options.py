"""One options system: a backend declares each option once; the core parses every value.

Before this module every backend parsed its own options with its own rules (an empty value
was false on one backend and an error on the next, 0 seconds meant "the default" on one).
Now a backend subclasses :class:`Options` and declares each option once::

    class MemoryOptions(Options):
        backend = "memory"
        auto_create_topics = Option(Bool(), False, "create a missing topic on first use")

The declaration says the name, the :class:`Kind` (one strict parser per type, shared by
every backend), the default, the doc line, whether the value is secret and where the
option applies (:data:`Scope`). ``MemoryOptions.parse(given)`` checks the names (an unknown
one is a ConfigError listing the valid ones, with a did-you-mean), coerces every value and
returns a frozen, typed object: ``opts.auto_create_topics`` is a ``bool``. Docs tables,
``anymq backends --options`` and secret masking are generated from the same declarations.

The same kinds check the numeric arguments of the public API (:func:`seconds`,
:func:`count`), which take Python values only: a str is refused there.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar, overload

from anymq.errors import ConfigError

Scope = Literal["connect", "producer", "consumer", "topic"]
"""Where an option may be given: ``connect`` (URL query or ``anymq.connect`` keyword),
``producer`` (``broker.producer(**options)``), ``consumer``, ``topic`` (``create_topic``).
A value given at connect for an option that also has a client or topic scope is the
default of every producer / consumer / topic made from that broker."""

SCOPES: tuple[Scope, ...] = ("connect", "producer", "consumer", "topic")
_WHERE = {
    "connect": "anymq.connect() or the URL",
    "producer": "broker.producer()",
    "consumer": "broker.consumer()",
    "topic": "broker.create_topic()",
}
MASK = "***"
NONE_SHOWN = "-"

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Refused(Exception):
    """Internal: a kind refused a value; the Option turns it into a ConfigError."""


class Kind(Generic[T_co]):
    """A strict parser for one type of option value.

    ``from_text`` parses URL query values (and str keyword values), ``from_value`` checks
    Python values. Both raise :class:`Refused`; ``expected`` says which form is accepted.
    """

    type_name: ClassVar[str] = "value"
    expected: str = "a value"
    #: A value this kind refuses, so tests can prove that refusal without knowing the kind.
    bad_example: object = None

    @property
    def shown(self) -> str:
        """The type as docs and the CLI show it, with its bounds or choices."""
        return self.type_name

    def from_text(self, text: str) -> T_co:
        raise Refused

    def from_value(self, value: object) -> T_co:
        raise Refused

    def __call__(self, value: object) -> T_co:
        if isinstance(value, str):
            return self.from_text(value)
        return self.from_value(value)


TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")


class Bool(Kind[bool]):
    """true/false, 1/0, yes/no, on/off in any case, or a Python bool; nothing else."""

    type_name = "bool"
    expected = "true or false (or 1/0, yes/no, on/off)"
    bad_example = "ture"

    def from_text(self, text: str) -> bool:
        word = text.strip().lower()
        if word in TRUE:
            return True
        if word in FALSE:
            return False
        raise Refused

    def from_value(self, value: object) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise Refused


def _bounds(low: float | None, high: float | None, low_open: bool) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f"<= {high:g}"
    return ""


class Seconds(Kind[float]):
    """A duration in seconds: a finite number > 0 unless ``minimum``/``zero`` say otherwise.

    ``Seconds()`` refuses 0 (a zero timeout is nonsense, never "the default");
    ``Seconds(zero=True)`` accepts it where the option says what 0 means.
    """

    type_name = "seconds"
    bad_example = "0"

    @property
    def shown(self) -> str:
        return f"seconds {self.range}"

    def __init__(
        self, *, zero: bool = False, minimum: float | None = None, maximum: float | None = None
    ) -> None:
        self.open = minimum is None and not zero
        self.minimum = 0.0 if minimum is None else minimum
        self.maximum = maximum
        self.range = _bounds(self.minimum, maximum, self.open)
        self.expected = "a number of seconds " + self.range
        if not self.open and self.minimum == 0:
            self.bad_example = "-1"

    def from_text(self, text: str) -> float:
        try:
            number = float(text)
        except ValueError:
            raise Refused from None
        return self.from_value(number)

    def from_value(self, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Refused
        number = float(value)
        if not math.isfinite(number) or number < self.minimum:
            raise Refused
        if (self.open and number == self.minimum) or (
            self.maximum is not None and number > self.maximum
        ):
            raise Refused
        return number


class Int(Kind[int]):
    """A whole number within bounds ("1.5" and "1e4" are refused, never cut)."""

    type_name = "int"

    @property
    def shown(self) -> str:
        return f"int {self.range}".rstrip()

    def __init__(self, minimum: int | None = None, maximum: int | None = None) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.range = _bounds(minimum, maximum, False)
        self.expected = f"a whole number {self.range}".rstrip()
        self.bad_example = "1.5"

    def from_text(self, text: str) -> int:
        try:
            number = int(text.strip())
        except ValueError:
            raise Refused from None
        return self.from_value(number)

    def from_value(self, value: object) -> int:
        if isinstance(value, bool):
            raise Refused
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise Refused
        if (self.minimum is not None and value < self.minimum) or (
            self.maximum is not None and value > self.maximum
        ):
            raise Refused
        return value


class Choice(Kind[str]):
    """One of a fixed list of words (any case); the declared spelling is returned."""

    type_name = "choice"
    bad_example = "no-such-choice"

    def __init__(self, *allowed: str) -> None:
        self.allowed = allowed
        self.expected = "one of " + ", ".join(allowed)

    @property
    def shown(self) -> str:
        return " / ".join(self.allowed)

    def from_text(self, text: str) -> str:
        word = text.strip().lower()
        for item in self.allowed:
            if item.lower() == word:
                return item
        raise Refused

    def from_value(self, value: object) -> str:
        raise Refused


class Text(Kind[str]):
    """A non-empty string (an empty value is refused, not read as "not given")."""

    type_name = "str"
    expected = "a non-empty string"
    bad_example = ""

    def from_text(self, text: str) -> str:
        if not text:
            raise Refused
        return text


class Path(Text):
    """A file path (whether it can be read is checked where it is opened)."""

    type_name = "path"
    expected = "a non-empty file path"

    def from_value(self, value: object) -> str:
        if isinstance(value, os.PathLike):
            return self.from_text(os.fspath(value))
        raise Refused


class Table(Kind[Mapping[str, str]]):
    """A mapping of str to str, given as a keyword argument (a URL cannot carry one)."""

    type_name = "mapping"
    expected = "a mapping of names to values (a keyword argument, not a URL option)"
    bad_example = "a=b"

    def from_value(self, value: object) -> Mapping[str, str]:
        if not isinstance(value, Mapping):
            raise Refused
        return MappingProxyType({str(k): str(v) for k, v in value.items()})


class Option(Generic[T]):
    """One declared option. As a class attribute of :class:`Options` it reads as a ``T``."""

    name: str = ""

    def __init__(
        self,
        kind: Kind[T],
        default: T,
        doc: str,
        *,
        scopes: Iterable[Scope] = ("connect",),
        secret: bool = False,
        shown_default: str | None = None,
    ) -> None:
        self.kind = kind
        self.default = default
        self.doc = doc
        self.scopes: frozenset[Scope] = frozenset(scopes)
        self.secret = secret
        self.shown_default = shown_default

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Option[T]: ...
    @overload
    def __get__(self, instance: Options, owner: type) -> T: ...
    def __get__(self, instance: Options | None, owner: type) -> Option[T] | T:
        if instance is None:
            return self
        try:
            return instance._values[self.name]  # type: ignore[no-any-return]
        except KeyError:
            raise AttributeError(
                f"{self.name} is not a {instance.scope} option of {instance.backend}"
            ) from None

    def coerce(self, value: object, backend: str) -> T:
        """The value as a ``T``, or a ConfigError naming the option, value, form and backend."""
        try:
            return self.kind(value)
        except Refused:
            shown = MASK if self.secret else repr(value)
            raise ConfigError(
                f"option {self.name} of the {backend} backend must be {self.kind.expected}, "
                f"got {shown}"
            ) from None

    def default_text(self) -> str:
        """The default as the docs show it."""
        if self.shown_default is not None:
            return self.shown_default
        if self.default is None:
            return NONE_SHOWN
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, float) and self.default.is_integer():
            return f"{self.default:g}"
        return str(self.default)


class Options(Mapping[str, Any]):
    """A backend's declared options; an instance holds the parsed values of one scope.

    Attribute access gives every option of the scope (given or default), typed by its
    declaration; as a Mapping it holds only the options that were given, so a driver can
    pass those (and no defaults) through to its client library. Instances are frozen.
    """

    backend: ClassVar[str] = "backend"
    declared: ClassVar[Mapping[str, Option[Any]]] = MappingProxyType({})

    __slots__ = ("_given", "_values", "scope")
    scope: Scope
    _values: Mapping[str, Any]
    _given: Mapping[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        found: dict[str, Option[Any]] = {}
        for klass in reversed(cls.__mro__):
            for name, value in vars(klass).items():
                if isinstance(value, Option):
                    found[name] = value
        cls.declared = MappingProxyType(found)

    def __init__(self, scope: Scope, values: Mapping[str, Any], given: Mapping[str, Any]) -> None:
        object.__setattr__(self, "scope", scope)
        object.__setattr__(self, "_values", MappingProxyType(dict(values)))
        object.__setattr__(self, "_given", MappingProxyType(dict(given)))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen")

    # The Mapping of given values.
    def __getitem__(self, name: str) -> Any:
        return self._given[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._given)

    def __len__(self) -> int:
        return len(self._given)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Options):
            return (type(self), self.scope, self._values) == (
                type(other),
                other.scope,
                other._values,
            )
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={MASK if self.declared[name].secret else repr(value)}"
            for name, value in self._given.items()
        )
        return f"{type(self).__name__}[{self.scope}]({shown})"

    @classmethod
    def in_scope(cls, scope: Scope) -> dict[str, Option[Any]]:
        """The options that may be given in ``scope``."""
        return {name: o for name, o in cls.declared.items() if scope in o.scopes}

    @classmethod
    def secrets(cls) -> frozenset[str]:
        """Names of the options whose values are never shown."""
        return frozenset(name for name, o in cls.declared.items() if o.secret)

    @classmethod
    def parse(
        cls,
        given: Mapping[str, Any],
        scope: Scope = "connect",
        *,
        defaults: Mapping[str, Any] | None = None,
    ) -> Self:
        """Check names and coerce values; ``defaults`` are values given at connect.

        A None value counts as not given; an object this method returned for ``scope`` is
        returned as it is (its defaults are in it). Raises ConfigError before anything
        connects or is sent.
        """
        if isinstance(given, cls) and given.scope == scope:
            return given
        valid = cls.in_scope(scope)
        cls._check_names(given, valid, scope)
        raw = {k: v for k, v in (defaults or {}).items() if k in valid and v is not None}
        raw.update({k: v for k, v in given.items() if v is not None})
        coerced = {name: valid[name].coerce(value, cls.backend) for name, value in raw.items()}
        values = {name: coerced.get(name, o.default) for name, o in valid.items()}
        return cls(scope, values, coerced)

    @classmethod
    def _check_names(
        cls, given: Mapping[str, Any], valid: Mapping[str, Option[Any]], scope: Scope
    ) -> None:
        unknown = [name for name in given if name not in valid]
        if not unknown:
            return
        name = unknown[0]
        listing = ", ".join(sorted(valid)) or "none"
        elsewhere = cls.declared.get(name)
        if elsewhere is not None:
            where = " or ".join(_WHERE[s] for s in SCOPES if s in elsewhere.scopes)
            raise ConfigError(
                f"option {name} of the {cls.backend} backend is not a {scope} option: give "
                f"it to {where}; valid: {listing}"
            )
        close = difflib.get_close_matches(name, list(valid), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        names = ", ".join(sorted(unknown))
        raise ConfigError(
            f"unknown {scope} option(s) for the {cls.backend} backend: {names}{hint}; "
            f"valid: {listing}"
        )

    @classmethod
    def rows(cls) -> list[tuple[str, str, str, str, str]]:
        """(name, type, default, scopes, doc) of every option, for docs and the CLI."""
        return [
            (
                name,
                o.kind.shown + (", secret" if o.secret else ""),
                o.default_text(),
                ", ".join(s for s in SCOPES if s in o.scopes),
                o.doc,
            )
            for name, o in cls.declared.items()
        ]


def markdown_table(declared: type[Options]) -> str:
    """The option table of a backend's docs page, generated from its declarations."""
    lines = ["| option | type | default | where | meaning |", "|---|---|---|---|---|"]
    for name, kind, default, scopes, doc in declared.rows():
        cell = default if default == NONE_SHOWN else f"`{default}`"
        lines.append(f"| `{name}` | {kind} | {cell} | {scopes} | {doc.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


# Numeric arguments of the public API (timeouts, delays, counts): Python values only, a str
# is a caller's mistake there. ``value < 0`` is not enough: NaN compares false with
# everything (a NaN timeout would wait forever) and ``True`` is an int to Python.

_API_SECONDS = Seconds(zero=True)
_API_COUNT = Int(minimum=1)


def seconds(name: str, value: Any, *, none: str | None = None) -> float | None:
    """``value`` if it is None (when ``none`` says what None means) or finite seconds >= 0."""
    if value is None and none is not None:
        return None
    try:
        if isinstance(value, str):
            raise Refused
        _API_SECONDS.from_value(value)
    except Refused:
        allowed = "a finite number of seconds >= 0"
        if none is not None:
            allowed = f"None ({none}) or {allowed}"
        raise ConfigError(f"{name} must be {allowed}, got {value!r}") from None
    return value  # type: ignore[no-any-return]


def count(name: str, value: Any) -> int:
    """``value`` if it is an int >= 1 (not a bool, not a float)."""
    if isinstance(value, (float, str)):
        raise ConfigError(f"{name} must be an int >= 1, got {value!r}")
    try:
        return _API_COUNT.from_value(value)
    except Refused:
        raise ConfigError(f"{name} must be an int >= 1, got {value!r}") from None
