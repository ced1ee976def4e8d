"""The error tree: where the new classes sit, and what ``retriable`` says by default."""

from __future__ import annotations

import pickle

import pytest

import anymq
from anymq import errors

RETRIABLE = {
    errors.AnyMQError: False,
    errors.ConfigError: False,
    errors.AuthenticationError: False,
    errors.BrokerUnavailable: True,
    errors.PublishError: False,
    errors.DeliveryUncertain: True,
    errors.BrokerError: False,
    errors.ClosedError: False,
    errors.SerializationError: False,
}


@pytest.mark.parametrize(("cls", "retriable"), RETRIABLE.items())
def test_class_defaults_of_retriable(cls: type[errors.AnyMQError], retriable: bool) -> None:
    assert cls.retriable is retriable
    error = cls("x") if cls is not errors.BrokerUnavailable else cls("x", host="h", port=1)
    assert error.retriable is retriable


def test_every_class_answers_retriable() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type)]
    for cls in classes:
        if issubclass(cls, errors.AnyMQError):
            assert isinstance(cls.retriable, bool), cls


def test_one_error_may_override_its_class() -> None:
    throttled = anymq.BrokerError("slow down", retriable=True)
    assert throttled.retriable is True
    assert anymq.BrokerError.retriable is False
    replicas = anymq.PublishError("too few in-sync replicas", retriable=True)
    assert replicas.retriable is True
    assert pickle.loads(pickle.dumps(replicas)).retriable is True


def test_where_the_new_classes_sit() -> None:
    # a wrong password is a setting to fix, never an outage to wait out
    assert issubclass(anymq.AuthenticationError, anymq.ConfigError)
    assert not issubclass(anymq.AuthenticationError, anymq.BrokerUnavailable)
    # handlers of "the send failed" still catch an unknown outcome
    assert issubclass(anymq.DeliveryUncertain, anymq.PublishError)
    assert not issubclass(anymq.BrokerError, (anymq.PublishError, anymq.ConfigError))


def test_the_docstring_tree_names_every_class() -> None:
    tree = errors.__doc__ or ""
    for cls in vars(errors).values():
        if isinstance(cls, type) and issubclass(cls, errors.AnyMQError):
            assert cls.__name__ in tree, cls


def test_broker_unavailable_at_names_the_first_address() -> None:
    from anymq.errors import BrokerUnavailable

    error = BrokerUnavailable.at("h1:9092,h2:9093", "cannot connect")
    assert (str(error), error.host, error.port) == ("cannot connect", "h1", 9092)
    bare = BrokerUnavailable.at("sqs.eu-west-1.amazonaws.com", "down")
    assert (bare.host, bare.port) == (None, None)
