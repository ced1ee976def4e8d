"""RabbitMQ-specific behaviour beyond the contract suite: options, connection errors,
exchange types, mandatory publishing, topic cleanup, dead-letter headers, per-message
TTL, the registry under concurrency and a seek that goes through another member's pump."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

import anymq
from tests.rabbitmq.helpers import queue_exists, with_query

pytestmark = [pytest.mark.rabbitmq, pytest.mark.anymq]


def _name(label: str) -> str:
    return f"anymq-rmq-{label}-{uuid.uuid4().hex[:8]}"


async def test_unknown_options_name_the_valid_ones(rabbitmq_url: str) -> None:
    with pytest.raises(anymq.ConfigError, match="mode") as info:
        anymq.connect(rabbitmq_url, prefetch_size=3)
    assert "prefetch_size" in str(info.value)
    with pytest.raises(anymq.ConfigError, match="classic"):
        anymq.connect(with_query(rabbitmq_url, mode="lazy"))
    async with anymq.connect(rabbitmq_url) as broker:
        with pytest.raises(anymq.ConfigError, match="mandatory"):
            broker.producer(bogus=1)
        with pytest.raises(anymq.ConfigError, match="exclusive"):
            broker.consumer("t", "g", bogus=1)
        with pytest.raises(anymq.ConfigError, match="exchange_type"):
            await broker.create_topic(_name("opt"), bogus=1)


async def test_unreachable_broker_fails_fast_without_the_password(rabbitmq_url: str) -> None:
    started = time.monotonic()
    with pytest.raises(anymq.BrokerUnavailable) as info:
        async with anymq.connect("amqp://me:S3cret-pw@127.0.0.1:1/", connect_timeout=3):
            pass
    assert time.monotonic() - started < 5
    assert "127.0.0.1:1" in str(info.value)
    assert "S3cret-pw" not in str(info.value)
    # the hint names what a pip user has, not a path in anymq's repository (issue 14)
    assert "compose/" not in str(info.value)
    assert "rabbitmq-server" in str(info.value)
    assert "within 3s" not in str(info.value)  # it was refused at once, not timed out
    target = anymq.URL.parse(rabbitmq_url)
    wrong = f"amqp://{target.username or 'guest'}:Wr0ng-pw@{target.host}:{target.port or 5672}/"
    # refused credentials are not an outage: AuthenticationError, never retriable (issue 12)
    with pytest.raises(anymq.AuthenticationError, match="refused the login") as info:
        async with anymq.connect(wrong, connect_timeout=3):
            pass
    assert "Wr0ng-pw" not in str(info.value)
    started = time.monotonic()
    with pytest.raises(anymq.BrokerUnavailable) as info:  # nothing answers: the timeout bounds
        async with anymq.connect("amqp://me:S3cret-pw@10.255.255.1:5672/", connect_timeout=1):
            pass
    assert time.monotonic() - started < 4
    assert "S3cret-pw" not in str(info.value)


async def test_fanout_direct_and_headers_topics_route(rabbitmq_url: str) -> None:
    async with anymq.connect(rabbitmq_url) as broker:
        fan, direct, heads = _name("fan"), _name("direct"), _name("heads")
        await broker.create_topic(fan, exchange_type="fanout")
        await broker.create_topic(direct, exchange_type="direct")
        await broker.create_topic(heads, exchange_type="headers")
        try:
            assert (await broker.describe_topic(fan)).details["exchange_type"] == "fanout"
            with pytest.raises(anymq.ConfigError, match="fanout"):
                async with broker.consumer(fan, "g", binding="x.*"):
                    pass
            async with (
                broker.consumer(fan, "a") as a,
                broker.consumer(fan, "b") as b,
                broker.consumer(direct, "all") as everything,
                broker.consumer(direct, "only-a", binding="a") as only_a,
                broker.consumer(heads, "eu", binding="region=eu") as eu,
                broker.producer() as producer,
            ):
                await producer.send(fan, b"f", routing_key="anything")
                await producer.send(direct, b"default")
                await producer.send(direct, b"to-a", routing_key="a")
                await producer.send(heads, b"eu-msg", headers={"region": "eu"})
                await producer.send(heads, b"us-msg", headers={"region": "us"})
                got = {}
                for label, consumer in (
                    ("a", a),
                    ("b", b),
                    ("all", everything),
                    ("only-a", only_a),
                    ("eu", eu),
                ):
                    got[label] = sorted(m.value for m in await consumer.receive(10, 1.0))
            assert got["a"] == got["b"] == [b"f"]
            assert got["all"] == [b"default"], "a group without binding gets default-routed ones"
            assert got["only-a"] == [b"to-a"]
            assert got["eu"] == [b"eu-msg"]
        finally:
            for name in (fan, direct, heads):
                await broker.delete_topic(name)


async def test_mandatory_send_fails_when_no_queue_is_bound(rabbitmq_url: str) -> None:
    topic = _name("mand")
    async with anymq.connect(rabbitmq_url) as broker:
        await broker.create_topic(topic)
        try:
            async with broker.producer(mandatory=True) as producer:
                with pytest.raises(anymq.PublishError, match="no queue is bound"):
                    await producer.send(topic, b"nobody listens")
                async with broker.consumer(topic, "g") as consumer:
                    await producer.send(topic, b"someone listens")
                    [msg] = await consumer.receive(1, 5)
                    assert msg.value == b"someone listens"
            async with broker.producer() as producer:  # default: dropped like a broadcast
                await producer.send(topic, b"fine without mandatory")
        finally:
            await broker.delete_topic(topic)


async def test_delete_topic_removes_its_queues_and_registry_entry(rabbitmq_url: str) -> None:
    topic = _name("del")
    async with anymq.connect(rabbitmq_url) as broker:
        await broker.create_topic(topic)
        async with broker.consumer(topic, "g1"), broker.consumer(topic, "g2"):
            pass
        info = await broker.describe_topic(topic)
        assert info.details["groups"] == ["g1", "g2"]
        assert info.details["queues"] == [f"{topic}.g1", f"{topic}.g2"]
        assert await queue_exists(rabbitmq_url, f"{topic}.g1")
        assert topic in await broker.list_topics()
        await broker.delete_topic(topic)
        assert not await queue_exists(rabbitmq_url, f"{topic}.g1")
        assert not await queue_exists(rabbitmq_url, f"{topic}.g2")
        assert topic not in await broker.list_topics()
        with pytest.raises(anymq.TopicNotFound):
            await broker.delete_topic(topic)


async def test_dead_letters_carry_spring_headers_not_x_death(rabbitmq_url: str) -> None:
    for mode in ("classic", "stream"):
        topic = _name(f"dl{mode}")
        async with anymq.connect(with_query(rabbitmq_url, mode=mode)) as broker:
            await broker.create_topic(topic)
            try:
                consumer = broker.consumer(topic, "work", max_deliveries=1)
                async with consumer, broker.consumer(f"{topic}.DLT", "work") as dead:
                    async with broker.producer() as producer:
                        await producer.send(topic, b"bad", key=b"k", headers={"trace": "t1"})
                    [msg] = await consumer.receive(1, 10)
                    await msg.nack()
                    [letter] = await dead.receive(1, 10)
            finally:
                await broker.delete_topic(topic)
                await broker.delete_topic(f"{topic}.DLT")
        assert letter.value == b"bad"
        assert letter.key == b"k"
        assert letter.headers["trace"] == b"t1"
        assert letter.headers["kafka_dlt-original-topic"] == topic.encode(), mode
        assert letter.headers["kafka_dlt-original-consumer-group"] == b"work", mode
        assert b"DeliveryLimitExceeded" in letter.headers["kafka_dlt-exception-fqcn"], mode
        assert not [h for h in letter.headers if h.startswith("x-")], letter.headers


async def test_per_message_ttl_expires_unconsumed_messages(rabbitmq_url: str) -> None:
    topic = _name("ttl")
    async with anymq.connect(rabbitmq_url) as broker:
        await broker.create_topic(topic)
        try:
            async with broker.consumer(topic, "g"):
                pass
            async with broker.producer(ttl=0.2) as producer:
                await producer.send(topic, b"short-lived")
            await asyncio.sleep(0.5)
            async with broker.consumer(topic, "g") as consumer:
                assert await consumer.receive(10, 0.5) == []
        finally:
            await broker.delete_topic(topic)


async def test_registry_gives_one_creator_under_concurrency(rabbitmq_url: str) -> None:
    topic = _name("race")
    brokers = [anymq.connect(rabbitmq_url) for _ in range(4)]
    for broker in brokers:
        await broker.start()
    try:
        results = await asyncio.gather(*(b.create_topic(topic) for b in brokers))
        assert sorted(results) == [False, False, False, True]
        listed = await asyncio.gather(*(b.list_topics() for b in brokers))
        assert all(topic in names for names in listed)
    finally:
        await brokers[0].delete_topic(topic)
        for broker in brokers:
            await broker.close()


async def test_stream_seek_from_a_member_without_the_pump(rabbitmq_url: str) -> None:
    """Two connections (as two processes would): the second member's seek goes through
    the control queue to the pump held by the first, and the group replays from there."""
    url = with_query(rabbitmq_url, mode="stream")
    topic = _name("seek")
    async with anymq.connect(url) as first, anymq.connect(url) as second:
        await first.create_topic(topic)
        try:
            leader = first.consumer(topic, "g")
            await leader.start()
            member = second.consumer(topic, "g")
            await member.start()
            async with first.producer() as producer:
                receipts = [await producer.send(topic, b"m%d" % i) for i in range(6)]
            assert all(r.offset is not None for r in receipts)
            seen: list[bytes] = []
            deadline = time.monotonic() + 15
            while len(seen) < 6 and time.monotonic() < deadline:
                for consumer in (leader, member):
                    for msg in await consumer.receive(10, 0.2):
                        seen.append(msg.value)
                        await msg.ack()
            assert sorted(seen) == [b"m%d" % i for i in range(6)]
            await member.seek(anymq.Position.at_offset(receipts[2].offset or 0))
            replay: list[bytes] = []
            deadline = time.monotonic() + 15
            while len(replay) < 4 and time.monotonic() < deadline:
                for consumer in (leader, member):
                    for msg in await consumer.receive(10, 0.2):
                        replay.append(msg.value)
                        await msg.ack()
            assert sorted(replay) == [b"m%d" % i for i in range(2, 6)]
            await leader.close()
            await member.close()
        finally:
            await first.delete_topic(topic)
