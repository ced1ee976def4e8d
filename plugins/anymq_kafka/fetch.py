"""Build anymq messages inside aiokafka's fetcher: one object per consumed record.

aiokafka turns every fetched record into a ``ConsumerRecord``, which the driver would then
copy into a :class:`~anymq.message.Received`: two objects per message, which was the largest
cost of consuming through anymq (``benchmarks/bench_kafka.py``). For the driver's own client
only, the fetcher's buffer is swapped for one whose record iterators yield ``Received``
messages directly; other aiokafka consumers in the process are untouched.

This reaches into aiokafka's private fetcher (``Fetcher._records`` and
``PartitionRecords._consumer_record``), so it is opt-out (``fast_fetch=false``, see
:mod:`anymq_kafka.private`). :func:`install` checks that shape first and leaves the client
alone if it changed; the driver then copies ConsumerRecords as before, only slower.
"""

from __future__ import annotations

import functools
import inspect
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from aiokafka.consumer.fetcher import PartitionRecords  # type: ignore[import-untyped]

from anymq.message import Received

if TYPE_CHECKING:
    from anymq.delivery import Delivery


class _AnymqRecords(PartitionRecords):  # type: ignore[misc]
    """A fetched partition's record iterator that yields Received messages.

    Built fresh from aiokafka's instance rather than by swapping ``__class__``: a swapped
    instance defeats CPython's attribute caches and made every record slower.
    """

    def __init__(self, original: Any, driver: Delivery) -> None:
        self._anymq_driver = driver
        super().__init__(
            original._tp,
            original._records,
            original._aborted_transactions,
            original.next_fetch_offset,
            original._key_deserializer,
            original._value_deserializer,
            original._check_crcs,
            original._isolation_level,
        )

    def _consumer_record(self, tp: Any, record: Any) -> Received:
        # Runs once per consumed record, so this is from_consumer_record() inlined (the call
        # would cost ~5 % of the fetch); tests/kafka/test_fetch.py checks both paths alike.
        # Handle and delivery count are settled by the driver when it takes the batch.
        value = record.value
        headers = record.headers  # (name, value) pairs; a dict only if someone reads them
        return Received(
            value if value is not None else b"",
            record.key,
            headers or (),  # keeping an empty list alive per message costs GC passes
            tp.topic,
            tp.partition,
            record.offset,
            record.timestamp,
            1,
            None,
            None,
            self._anymq_driver,
        )


def from_consumer_record(record: Any, driver: Delivery) -> Received:
    """A Received for an aiokafka ConsumerRecord: the path when :func:`install` could not
    install itself (aiokafka changed shape)."""
    value = record.value
    return Received(
        value if value is not None else b"",
        record.key,
        record.headers or (),
        record.topic,
        record.partition,
        record.offset,
        record.timestamp,
        1,
        None,
        None,
        driver,
    )


class _Buffer(OrderedDict[Any, Any]):
    """The fetcher's per-partition buffer; converts record iterators as they arrive."""

    def __init__(self, driver: Delivery) -> None:
        super().__init__()
        self.driver = driver

    def __setitem__(self, tp: Any, result: Any) -> None:
        records: Any = getattr(result, "_partition_records", None)
        if type(records) is PartitionRecords:
            result._partition_records = _AnymqRecords(records, self.driver)
        super().__setitem__(tp, result)


_INIT = (
    "self",
    "tp",
    "records",
    "aborted_transactions",
    "fetch_offset",
    "key_deserializer",
    "value_deserializer",
    "check_crcs",
    "isolation_level",
)


@functools.cache
def _expected_shape() -> bool:
    """aiokafka's PartitionRecords still takes, and keeps, what _AnymqRecords copies."""
    try:
        names = tuple(inspect.signature(PartitionRecords.__init__).parameters)
    except (TypeError, ValueError):
        return False
    return names == _INIT and callable(getattr(PartitionRecords, "_consumer_record", None))


def install(client: Any, driver: Delivery) -> bool:
    """Make ``client`` (a started AIOKafkaConsumer) fetch Received messages for ``driver``.

    Returns False, changing nothing, when aiokafka's fetcher is not the shape this expects.
    """
    fetcher: Any = getattr(client, "_fetcher", None)
    buffer = getattr(fetcher, "_records", None)
    if type(buffer) is not OrderedDict or not _expected_shape():
        return False
    ours = _Buffer(driver)
    for tp, result in buffer.items():
        ours[tp] = result
    fetcher._records = ours
    return True
