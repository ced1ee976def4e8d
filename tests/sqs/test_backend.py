"""SQS backend behaviour beyond the contract suite, against a real SQS+SNS endpoint (moto)."""

from __future__ import annotations

import asyncio
import time

import pytest

import anymq
from anymq_sqs import naming
from tests.sqs.helpers import unique, with_options

pytestmark = [pytest.mark.sqs, pytest.mark.anymq]

MANY_HEADERS = {f"h{i}": f"v{i}" for i in range(14)} | {
    "binary": b"\x00\x01\xff",
    "empty": b"",
    "with space": "x",
    "AWS.reserved": "y",
    "anymq.key": "not the key",
}


def _expected(headers: dict[str, str | bytes]) -> dict[str, bytes]:
    return {k: v.encode() if isinstance(v, str) else v for k, v in headers.items()}


@pytest.mark.parametrize("mode", ["sns", "queue"])
async def test_headers_beyond_ten_and_binary_or_empty_bodies_roundtrip(
    sqs_url: str, mode: str
) -> None:
    sent = [
        (b"", None, MANY_HEADERS),
        (b"\x00\xff\xfe binary", b"\x00key", MANY_HEADERS),
        ("ünïcødé\r\n".encode(), b"", {"only": b"\xff"}),
        (bytes(range(256)), "clé".encode(), None),
    ]
    async with anymq.connect(with_options(sqs_url, mode=mode)) as broker:
        topic = unique("codec")
        await broker.create_topic(topic)
        try:
            async with broker.consumer(topic, "g") as consumer, broker.producer() as producer:
                await producer.send(topic, sent[0][0], key=sent[0][1], headers=sent[0][2])
                await producer.send_batch(
                    topic, [anymq.Message(v, key=k, headers=h) for v, k, h in sent[1:]]
                )
                got: list[anymq.Received] = []
                deadline = time.monotonic() + 20
                while len(got) < len(sent) and time.monotonic() < deadline:
                    for msg in await consumer.receive(10, timeout=1):
                        got.append(msg)
                        await msg.ack()
            by_body = {m.body: m for m in got}
            assert len(by_body) == len(sent)
            for value, key, headers in sent:
                msg = by_body[value]
                assert msg.key == key
                assert msg.headers == _expected(headers or {})
        finally:
            await broker.delete_topic(topic)


async def test_queue_mode_has_one_group_per_topic(sqs_url: str) -> None:
    async with anymq.connect(with_options(sqs_url, mode="queue")) as broker:
        assert anymq.Feature.FAN_OUT not in broker.capabilities
        assert anymq.Feature.BROADCAST not in broker.capabilities
        topic = unique("qmode")
        await broker.create_topic(topic)
        try:
            async with broker.producer() as producer:
                await producer.send(topic, b"kept")  # the queue is the topic: nothing is lost
            async with broker.consumer(topic, "first") as consumer:
                [msg] = await consumer.receive(1, timeout=5)
                assert msg.value == b"kept"
                await msg.ack()
            with pytest.raises(anymq.UnsupportedFeature) as info:
                async with broker.consumer(topic, "second"):
                    pass
            assert info.value.feature == "fan_out"
            with pytest.raises(anymq.UnsupportedFeature) as no_group:
                broker.consumer(topic)
            assert no_group.value.feature == "broadcast"
            async with broker.consumer(topic, "first"):  # the owning group still works
                pass
        finally:
            await broker.delete_topic(topic)


async def test_live_right_after_start(sqs_url: str) -> None:
    """Subscription confirmed (raw delivery) and policy set before start() returns."""
    async with anymq.connect(sqs_url) as broker, broker.producer() as producer:
        topic = unique("live")
        await broker.create_topic(topic)
        try:
            for i in range(5):
                for group in (f"g{i}", None):
                    async with broker.consumer(topic, group) as consumer:
                        await producer.send(topic, b"now-%d" % i)
                        got = await consumer.receive(5, timeout=5)
                        assert [m.value for m in got] == [b"now-%d" % i], (group, got)
                        await got[0].ack()
        finally:
            await broker.delete_topic(topic)


async def test_long_names_make_valid_distinct_queue_names(sqs_url: str) -> None:
    long_topic = "t" * 75 + ".fifo"
    groups = ["g" * 75, "g" * 74 + "h"]  # the longest group names (the topic rule)
    names = {naming.queue_name(long_topic, "group", g) for g in groups}
    assert len(names) == 2
    assert all(len(n) <= 80 and n.endswith(".fifo") for n in names)
    assert naming.queue_name("a-b", "group", "c") != naming.queue_name("a", "group", "b-c")
    async with anymq.connect(sqs_url) as broker:
        topic = unique("x" * 60)[:75]  # the longest name, FIFO suffix included
        await broker.create_topic(topic)
        try:
            for group in groups:
                async with broker.consumer(topic, group) as consumer, broker.producer() as p:
                    await p.send(topic, b"long")
                    assert [m.value for m in await consumer.receive(1, timeout=5)] == [b"long"]
        finally:
            await broker.delete_topic(topic)


async def test_delete_topic_removes_queues_and_subscriptions(sqs_url: str) -> None:
    async with anymq.connect(sqs_url) as broker:
        topic = unique("del")
        await broker.create_topic(topic)
        topology = broker.driver.topology  # type: ignore[attr-defined]
        async with broker.consumer(topic, "a"), broker.consumer(topic, "b"):
            pass
        crashed = broker.consumer(topic)  # a temporary queue left behind by a crash
        await crashed.start()
        queues = await topology._list_queues(naming.queue_prefix(topic))
        assert len(queues) == 3
        await broker.delete_topic(topic)
        assert await topology._list_queues(naming.queue_prefix(topic)) == []
        subs = await topology.sns.list_subscriptions()
        assert not [s for s in subs["Subscriptions"] if s["TopicArn"].endswith(":" + topic)]
        with pytest.raises(anymq.TopicNotFound):
            await broker.delete_topic(topic)
        crashed.driver.closed = True  # type: ignore[attr-defined]


async def test_heartbeat_keeps_a_slow_message_invisible(sqs_url: str) -> None:
    async with anymq.connect(sqs_url) as broker:
        topic = unique("slow")
        await broker.create_topic(topic)
        try:
            slow = broker.consumer(topic, "g", visibility_timeout=2)
            other = broker.consumer(topic, "g", visibility_timeout=2)
            async with slow, other, broker.producer() as producer:
                await producer.send(topic, b"long job")
                [msg] = await slow.receive(1, timeout=5)
                started = time.monotonic()
                while time.monotonic() - started < 5:  # 2.5 visibility timeouts
                    assert await other.receive(1, timeout=0.5) == [], "visible while processed"
                await msg.ack()
                assert await other.receive(1, timeout=2.5) == []
        finally:
            await broker.delete_topic(topic)


async def test_delayed_message_reaches_every_group(sqs_url: str) -> None:
    async with anymq.connect(sqs_url) as broker:
        topic = unique("delay")
        await broker.create_topic(topic)
        try:
            async with (
                broker.consumer(topic, "a") as a,
                broker.consumer(topic, "b") as b,
                broker.producer() as producer,
            ):
                sent = time.monotonic()
                await producer.send(topic, b"later", delay=1.5, headers={"h": b"\x00"})
                for consumer in (a, b):
                    got: list[anymq.Received] = []
                    while not got and time.monotonic() - sent < 10:
                        got = await consumer.receive(1, timeout=1)
                    assert [m.value for m in got] == [b"later"]
                    assert got[0].headers == {"h": b"\x00"}
                    await got[0].ack()
                assert time.monotonic() - sent >= 1.5
        finally:
            await broker.delete_topic(topic)


async def test_describe_group_counts_waiting_and_in_flight(sqs_url: str) -> None:
    async with anymq.connect(sqs_url) as broker:
        topic = unique("lag")
        await broker.create_topic(topic)
        try:
            async with broker.consumer(topic, "g") as consumer, broker.producer() as producer:
                await producer.send_batch(topic, [b"m%d" % i for i in range(5)])
                held = await consumer.receive(2, timeout=5)
                info = await broker.describe_group(topic, "g")
                assert info.backlog == 5
                assert info.in_flight == len(held)
                for msg in held:
                    await msg.ack()
            info = await broker.describe_group(topic, "g")
            assert info.backlog == 5 - len(held)
            assert (await broker.describe_group(topic, "never")).backlog == 0
        finally:
            await broker.delete_topic(topic)


async def test_redrive_catches_what_a_crashing_consumer_never_settles(sqs_url: str) -> None:
    """Closing without ack twice (as a crash would) also ends in the dead-letter topic."""
    async with anymq.connect(sqs_url) as broker:
        topic = unique("redrive")
        await broker.create_topic(topic)
        dlt = broker.driver.dead_letter_topic(topic, "g")
        assert dlt == topic + "-DLT"
        try:
            for attempt in (1, 2):
                async with broker.consumer(topic, "g", max_deliveries=2) as consumer:
                    if attempt == 1:
                        async with broker.producer() as producer:
                            await producer.send(topic, b"crashy", headers={"h": "v"})
                    [msg] = await consumer.receive(1, timeout=5)
                    assert msg.delivery_count == attempt
            async with broker.consumer(topic, "g", max_deliveries=2) as consumer:
                assert await consumer.receive(1, timeout=1.5) == []  # moved by the redrive
            async with broker.consumer(dlt, "any-group") as dead:
                [letter] = await dead.receive(1, timeout=5)
                assert letter.value == b"crashy"
                assert letter.headers == {"h": b"v"}
                await letter.ack()
        finally:
            await broker.delete_topic(topic)
            await broker.delete_topic(dlt)


async def test_client_side_dead_letter_has_spring_headers(sqs_url: str) -> None:
    async with anymq.connect(sqs_url) as broker:
        topic = unique("dlt")
        await broker.create_topic(topic)
        dlt = broker.driver.dead_letter_topic(topic, "g")
        try:
            async with broker.consumer(topic, "g", dead_letter_topic=dlt) as consumer:
                async with broker.producer() as producer:
                    await producer.send(topic, b"bad", key=b"k")
                [msg] = await consumer.receive(1, timeout=5)
                await msg.nack(requeue=False)
            # any group of the dead-letter topic reads the one dead-letter queue
            async with broker.consumer(dlt, "ops") as dead:
                [letter] = await dead.receive(1, timeout=5)
            assert letter.key == b"k"
            assert letter.headers["kafka_dlt-original-topic"] == topic.encode()
            assert letter.headers["kafka_dlt-original-consumer-group"] == b"g"
            assert letter.headers["kafka_dlt-exception-message"] == b"rejected without requeue"
        finally:
            await broker.delete_topic(topic)
            await broker.delete_topic(dlt)


async def test_fifo_mode_takes_the_same_names(sqs_url: str) -> None:
    """?fifo=true: plain names (the .fifo suffix is anymq's business); a name that ends in
    .fifo is refused on every URL, saying why."""
    async with anymq.connect(with_options(sqs_url, fifo=True)) as broker:
        assert anymq.Feature.KEY_ORDERING in broker.capabilities
        assert anymq.Feature.DELAYED_DELIVERY not in broker.capabilities
        topic = unique("plain")
        assert await broker.create_topic(topic)
        try:
            assert topic in await broker.list_topics()
            assert (await broker.describe_topic(topic)).details["fifo"] is True
        finally:
            await broker.delete_topic(topic)
        with pytest.raises(anymq.InvalidTopicName, match=r"anymq adds that suffix"):
            await broker.create_topic("orders.fifo")
        assert broker.driver.dead_letter_topic("orders", None) == "orders-DLT"


async def test_fifo_keeps_identical_bodies(sqs_url: str) -> None:
    """A fresh deduplication id per send: identical bodies are two messages, not one."""
    async with anymq.connect(with_options(sqs_url, fifo=True)) as broker:
        topic = unique("same")
        await broker.create_topic(topic)
        try:
            async with broker.consumer(topic, "g") as consumer, broker.producer() as producer:
                for _ in range(3):
                    await producer.send(topic, b"same", key=b"k")
                got: list[anymq.Received] = []
                deadline = time.monotonic() + 10
                while len(got) < 3 and time.monotonic() < deadline:
                    for msg in await consumer.receive(10, timeout=1):
                        got.append(msg)
                        await msg.ack()
            assert [m.value for m in got] == [b"same"] * 3
        finally:
            await broker.delete_topic(topic)


async def test_unreachable_endpoint_is_broker_unavailable_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(anymq.BrokerUnavailable) as info:
        async with anymq.connect("sqs://AKIDEXAMPLE:s3cr3t-key@127.0.0.1:9"):
            pass
    assert time.monotonic() - started < 10
    assert "127.0.0.1:9" in str(info.value)
    assert "s3cr3t-key" not in str(info.value)
    assert info.value.port == 9


def test_options_are_checked_and_secrets_hidden() -> None:
    with pytest.raises(anymq.ConfigError, match="visibility_timeout"):
        anymq.connect("sqs://127.0.0.1:4566?visibilty=3")
    with pytest.raises(anymq.ConfigError, match="mode"):
        anymq.connect("sqs://127.0.0.1:4566?mode=kinesis")
    with pytest.raises(anymq.ConfigError, match="disagree"):
        anymq.connect("sqs://127.0.0.1:4566?endpoint_url=http://127.0.0.1:9999")
    broker = anymq.connect("sqs://KEY:SECRET-VALUE@127.0.0.1:4566")
    assert "SECRET-VALUE" not in repr(broker)
    assert "SECRET-VALUE" not in str(broker.url)
    settings = broker.driver.settings  # type: ignore[attr-defined]
    assert settings.endpoint_url == "http://127.0.0.1:4566"
    assert settings.region == "us-east-1"
    same = anymq.connect("sqs://?endpoint_url=http://127.0.0.1:4566&region=us-east-1")
    assert same.driver.settings.endpoint_url == settings.endpoint_url  # type: ignore[attr-defined]


async def test_unknown_client_options_name_the_valid_ones(sqs_url: str) -> None:
    async with anymq.connect(sqs_url) as broker:
        with pytest.raises(anymq.ConfigError, match="visibility_timeout"):
            broker.consumer("t", "g", prefetchh=3)
        with pytest.raises(anymq.ConfigError, match="producer option"):
            broker.producer(linger_ms=3)
        with pytest.raises(anymq.ConfigError, match="topic option"):
            await broker.create_topic(unique("opt"), partitionz=3)


async def test_unsettled_messages_in_the_buffer_come_back_on_close(sqs_url: str) -> None:
    async with anymq.connect(sqs_url) as broker:
        topic = unique("buf")
        await broker.create_topic(topic)
        try:
            async with broker.producer() as producer:
                await producer.send_batch(topic, [b"m%d" % i for i in range(3)])  # no group yet
            async with broker.consumer(topic, "g"):
                pass
            async with broker.producer() as producer:
                await producer.send_batch(topic, [b"m%d" % i for i in range(3)])
            async with broker.consumer(topic, "g") as first:
                got = await first.receive(3, timeout=5)
                assert len(got) == 3
            started = time.monotonic()
            async with broker.consumer(topic, "g") as second:
                again: list[anymq.Received] = []
                while len(again) < 3 and time.monotonic() - started < 5:
                    again += await second.receive(3, timeout=1)
            assert sorted(m.value for m in again) == [b"m0", b"m1", b"m2"]
            assert all(m.delivery_count == 2 for m in again)
        finally:
            await broker.delete_topic(topic)


async def test_short_receive_timeouts_are_honoured(sqs_url: str) -> None:
    async with anymq.connect(sqs_url) as broker:
        topic = unique("short")
        await broker.create_topic(topic)
        try:
            async with broker.consumer(topic, "g") as consumer:
                for timeout in (0, 0.2, 0.7, 1.3):
                    started = time.monotonic()
                    assert await consumer.receive(1, timeout=timeout) == []
                    took = time.monotonic() - started
                    assert timeout <= took + 0.01 < timeout + 0.6, (timeout, took)
        finally:
            await broker.delete_topic(topic)


async def test_close_while_polling_gives_messages_back(sqs_url: str) -> None:
    async with anymq.connect(sqs_url, wait_time=2) as broker:
        topic = unique("poll")
        await broker.create_topic(topic)
        try:
            consumer = broker.consumer(topic, "g")
            await consumer.start()
            polling = asyncio.ensure_future(consumer.driver.receive(10, None))
            await asyncio.sleep(0.3)
            await consumer.close()
            async with broker.producer() as producer:
                await producer.send(topic, b"during close")
            assert await polling == []
            async with broker.consumer(topic, "g") as again:
                got = await again.receive(1, timeout=5)
            assert [m.value for m in got] == [b"during close"]
        finally:
            await broker.delete_topic(topic)


async def test_queue_mode_delivery_semantics(sqs_url: str) -> None:
    """mode=queue: delays, nack counts and dead letters straight on SQS, no SNS involved."""
    async with anymq.connect(with_options(sqs_url, mode="queue")) as broker:
        topic = unique("qsem")
        await broker.create_topic(topic)
        dlt = broker.driver.dead_letter_topic(topic, "g")
        try:
            assert topic in await broker.list_topics()
            consumer = broker.consumer(topic, "g", max_deliveries=2)
            async with consumer, broker.producer() as producer:
                assert dlt in await broker.list_topics()
                sent = time.monotonic()
                await producer.send(topic, b"poison", key=b"\x00k", delay=1)
                counts = []
                while len(counts) < 2 and time.monotonic() - sent < 10:
                    for msg in await consumer.receive(1, timeout=1):
                        assert time.monotonic() - sent >= 1
                        counts.append(msg.delivery_count)
                        await msg.nack()
                assert counts == [1, 2]
            async with broker.consumer(dlt, "ops") as dead:
                [letter] = await dead.receive(1, timeout=5)
            assert (letter.value, letter.key) == (b"poison", b"\x00k")
            assert letter.headers["kafka_dlt-original-topic"] == topic.encode()
            assert (await broker.describe_group(topic, "g")).backlog == 0
        finally:
            await broker.delete_topic(topic)
            await broker.delete_topic(dlt)
        assert topic not in await broker.list_topics()
