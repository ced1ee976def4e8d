"""Contract: groups declared before their first consumer (create_group, create_topic(groups=)).

A declared group must get every message sent after its declaration, whatever ``start`` its
first consumer passes and however late it starts; declaring again never moves a group; and
``start="earliest"`` on a group that exists means "the oldest message this group can still
get" on every backend, message brokers included.
"""

from __future__ import annotations

import pytest

import anymq
from anymq.deadletter import PREFIX
from anymq.features import Feature
from anymq.testing.context import TestContext
from anymq.testing.decorators import requires
from anymq.testing.ledger import assert_received


def _values(messages: list[anymq.Received]) -> list[bytes]:
    return sorted(m.value for m in messages)


async def _nacked_until_dead(
    ctx: TestContext,
    broker: anymq.Broker,
    topic: str,
    group: str,
    dlt: str,
    value: bytes,
    *,
    send: bool = True,
) -> anymq.Received:
    """Consume ``group`` with max_deliveries=2 and ``dlt``; nack ``value`` (sent first
    unless it waits already) until it is dead-lettered and return the dead letter."""
    async with (
        broker.consumer(topic, group, max_deliveries=2, dead_letter_topic=dlt) as consumer,
        broker.consumer(dlt, ctx.group("dlq")) as dead,
    ):
        if send:
            async with broker.producer() as producer:
                await producer.send(topic, value, key=b"pk", headers={"h": "v"})
        counts: list[int] = []
        for _ in range(2):
            msg = await ctx.receive_one(
                consumer, f"the poison message (delivery {len(counts) + 1})", ack=False
            )
            assert msg.value == value, msg.value
            counts.append(msg.delivery_count)
            await msg.nack()
        letter = await ctx.receive_one(dead, "the dead letter", who="the dead-letter topic's group")
        rest = [m.value for m in await ctx.quiet_receive(consumer)]
    assert counts == [1, 2], f"delivery counts {counts}"
    assert value not in rest, "the message came back after its dead letter"
    return letter


def _check_letter(letter: anymq.Received, topic: str, group: str, value: bytes) -> None:
    assert letter.value == value
    assert letter.key == b"pk"
    assert letter.headers.get("h") == b"v", f"dead letter lost its headers: {letter.headers}"
    assert letter.headers.get(PREFIX + "original-topic") == topic.encode(), letter.headers
    assert letter.headers.get(PREFIX + "original-consumer-group") == group.encode()
    assert letter.headers.get("anymq-delivery-count") == b"2", letter.headers


class DeclareContract:
    """Declared groups: their position, re-declaring, ``earliest`` on existing groups, errors."""

    @requires(Feature.DECLARED_GROUPS)
    async def test_declared_group_gets_what_was_sent_before_its_consumer(
        self, ctx: TestContext
    ) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(2))
            plain, latest = ctx.group("plain"), ctx.group("latest")
            assert await broker.create_group(topic, plain) is True
            assert await broker.create_group(topic, latest) is True
            async with broker.producer() as producer:
                for i in range(4):
                    await producer.send(topic, b"m%d" % i, key=b"k%d" % i)
            async with broker.consumer(topic, plain) as first:  # the default start
                got_plain = await ctx.collect(first, 4) + await ctx.quiet_receive(first)
            async with broker.consumer(topic, latest, start="latest") as second:
                got_latest = await ctx.collect(second, 4) + await ctx.quiet_receive(second)
        expected = [b"m%d" % i for i in range(4)]
        assert_received(f"declared group {plain!r}", expected, _values(got_plain))
        assert_received(
            f"declared group {latest!r} (start='latest')", expected, _values(got_latest)
        )

    @requires(Feature.DECLARED_GROUPS, Feature.DEAD_LETTER)
    async def test_declared_group_dead_letters_with_consumer_settings(
        self, ctx: TestContext
    ) -> None:
        """max_deliveries and dead_letter_topic are consumer settings: a group declared
        without them (both ways of declaring) takes them from its consumer."""
        async with ctx.broker() as broker:
            a, b = ctx.group("a"), ctx.group("b")
            topic = await ctx.topic(broker, partitions=ctx.partitions(3), groups=[a])
            # as many partitions as the topic: dead letters keep their partition
            dlt = await ctx.topic(broker, "dlt", partitions=ctx.partitions(3))
            assert await broker.create_group(topic, b) is True
            async with broker.producer() as producer:  # each group gets it, unconsumed yet
                await producer.send(topic, b"poison", key=b"pk", headers={"h": "v"})
            letters = {
                group: await _nacked_until_dead(
                    ctx, broker, topic, group, dlt, b"poison", send=False
                )
                for group in (a, b)
            }
        for group, letter in letters.items():
            _check_letter(letter, topic, group, b"poison")

    @requires(Feature.CONSUMER_GROUPS, Feature.DEAD_LETTER)
    async def test_group_takes_dead_letter_settings_from_each_consumer(
        self, ctx: TestContext
    ) -> None:
        """A group used without max_deliveries, then with it, then with another
        dead_letter_topic: each consumer's settings apply, and nothing is lost between."""
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            first, second = await ctx.topic(broker, "dlt1"), await ctx.topic(broker, "dlt2")
            group = ctx.group()
            async with broker.consumer(topic, group) as plain:
                async with broker.producer() as producer:
                    await producer.send(topic, b"plain")
                msg = await ctx.receive_one(plain, "b'plain'", ack=False)
                await msg.nack()  # no limit asked: it comes back, as often as nacked
                again = await ctx.receive_one(plain, "b'plain' again after its nack")
            assert (again.value, again.delivery_count) == (b"plain", 2)
            one = await _nacked_until_dead(ctx, broker, topic, group, first, b"poison-1")
            two = await _nacked_until_dead(ctx, broker, topic, group, second, b"poison-2")
            async with broker.consumer(second, ctx.group("dlq")) as dead:
                assert not await ctx.quiet_receive(dead), "a dead letter went twice"
        _check_letter(one, topic, group, b"poison-1")
        _check_letter(two, topic, group, b"poison-2")

    @requires(Feature.DECLARED_GROUPS)
    async def test_create_topic_declares_its_groups(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            a, b, c = ctx.group("a"), ctx.group("b"), ctx.group("c")
            topic = await ctx.topic(broker, partitions=ctx.partitions(2), groups=[a, b])
            # Again on the existing topic: False, and the new group is declared all the same.
            assert await broker.create_topic(topic, groups=[a, c]) is False
            async with broker.producer() as producer:
                for i in range(5):
                    await producer.send(topic, b"m%d" % i, key=b"k%d" % i)
            got: dict[str, list[bytes]] = {}
            for group in (a, b, c):
                async with broker.consumer(topic, group) as consumer:
                    received = await ctx.collect(consumer, 5) + await ctx.quiet_receive(consumer)
                got[group] = _values(received)
        for group, values in got.items():
            assert_received(f"declared group {group!r}", [b"m%d" % i for i in range(5)], values)

    @requires(Feature.DECLARED_GROUPS)
    async def test_declaring_again_keeps_the_group_position(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            group = ctx.group()
            assert await broker.create_group(topic, group) is True
            async with broker.producer() as producer:
                await producer.send(topic, b"m0")
                await producer.send(topic, b"m1")
                # Pending messages survive a second declaration (both ways of declaring).
                assert await broker.create_group(topic, group) is False
                assert await broker.create_topic(topic, groups=[group]) is False
                async with broker.consumer(topic, group) as consumer:
                    first = await ctx.collect(consumer, 2) + await ctx.quiet_receive(consumer)
                await producer.send(topic, b"m2")
                # A group that consumed keeps its position: nothing again, nothing skipped.
                assert await broker.create_group(topic, group) is False
                async with broker.consumer(topic, group) as consumer:
                    second = await ctx.collect(consumer, 1) + await ctx.quiet_receive(consumer)
        who = f"group {group!r} declared again"
        assert_received(f"{who} (pending messages kept)", [b"m0", b"m1"], _values(first))
        assert_received(f"{who} (its position kept)", [b"m2"], _values(second))

    @requires(Feature.DECLARED_GROUPS)
    async def test_earliest_on_a_declared_group_starts_at_its_position(
        self, ctx: TestContext
    ) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            group = ctx.group()
            async with broker.producer() as producer:
                await producer.send(topic, b"before")  # the group does not exist yet
                await broker.create_group(topic, group)
                await producer.send(topic, b"after")
            async with broker.consumer(topic, group, start="earliest") as consumer:
                got = await ctx.collect(consumer, 1) + await ctx.quiet_receive(consumer)
        assert_received(
            f"declared group {group!r} with start='earliest' (from its declaration on)",
            [b"after"],
            _values(got),
        )

    @requires(Feature.CONSUMER_GROUPS, Feature.DURABLE_GROUPS)
    async def test_earliest_on_a_used_group_gets_what_waits_for_it(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker)
            group = ctx.group()
            async with broker.producer() as producer:
                await producer.send(topic, b"before")  # before the group's first consumer
                if not ctx.has(Feature.RETAINS_CONSUMED):
                    # A brand-new group of a message broker has nothing from before: refused,
                    # and the refusal creates nothing (asking again is refused again).
                    for _ in range(2):
                        with pytest.raises(anymq.UnsupportedFeature) as refused:
                            async with broker.consumer(topic, group, start="earliest"):
                                pass
                        assert refused.value.feature == Feature.RETAINS_CONSUMED.value
                async with broker.consumer(topic, group):
                    pass  # the group exists from here on
                await producer.send(topic, b"waiting")
            async with broker.consumer(topic, group, start="earliest") as consumer:
                got = await ctx.collect(consumer, 1) + await ctx.quiet_receive(consumer)
        assert_received(
            f"used group {group!r} with start='earliest' (what waits for it)",
            [b"waiting"],
            _values(got),
        )

    @requires(Feature.DECLARED_GROUPS, Feature.DEAD_LETTER)
    async def test_declared_groups_of_a_dead_letter_topic_get_its_dead_letters(
        self, ctx: TestContext
    ) -> None:
        async with ctx.broker() as broker:
            partitions = ctx.partitions(2)
            topic = await ctx.topic(broker, partitions=partitions)
            early, late = ctx.group("early"), ctx.group("late")
            # An ordinary topic made up front, its readers declared, as an app does it.
            dlt = await ctx.topic(broker, "dead", partitions=partitions, groups=[early, late])
            group = ctx.group()
            async with broker.consumer(dlt, early) as first:  # reading before the first
                async with broker.consumer(
                    topic, group, max_deliveries=2, dead_letter_topic=dlt
                ) as consumer:
                    async with broker.producer() as producer:
                        await producer.send(topic, b"poison", key=b"pk", headers={"h": "v"})
                    for _ in range(2):  # nacked on every delivery: dead after the second
                        msg = await ctx.receive_one(consumer, "b'poison'", ack=False)
                        await msg.nack()
                    rest = await ctx.quiet_receive(consumer)
                got_early = await ctx.collect(first, 1) + await ctx.quiet_receive(first)
            async with broker.consumer(dlt, late) as second:  # reading after it was sent
                got_late = await ctx.collect(second, 1) + await ctx.quiet_receive(second)
        assert [m.value for m in rest] == [], "the dead letter came back to its group"
        for name, got in (("early", got_early), ("late", got_late)):
            assert_received(f"dead-letter group {name!r}", [b"poison"], [m.value for m in got])
            [letter] = got
            assert letter.key == b"pk", f"group {name}: the dead letter lost its key"
            assert letter.headers.get("h") == b"v", f"group {name}: it lost its headers"

    @requires(Feature.DECLARED_GROUPS)
    async def test_bad_group_name_creates_nothing(self, ctx: TestContext) -> None:
        async with ctx.broker() as broker:
            name = ctx.name("bad")
            with pytest.raises(anymq.InvalidTopicName) as bad:
                await broker.create_topic(name, groups=[ctx.group(), "no spaces allowed!"])
            assert "no spaces allowed!" in str(bad.value)
            with pytest.raises(anymq.ConfigError):  # a str is not a list of names
                await broker.create_topic(name, groups=ctx.group())
            assert name not in await broker.list_topics(), "a refused create_topic created it"
            with pytest.raises(anymq.TopicNotFound):
                await broker.describe_topic(name)
            with pytest.raises(anymq.TopicNotFound):
                await broker.create_group(name, ctx.group())
            assert name not in await broker.list_topics(), "create_group created the topic"
            topic = await ctx.topic(broker)
            with pytest.raises(anymq.InvalidTopicName):
                await broker.create_group(topic, "no spaces allowed!")

    @requires(Feature.LIST_GROUPS)
    async def test_list_groups_names_the_groups_of_the_topic(self, ctx: TestContext) -> None:
        """The groups that consumed from the topic (and, where groups can be declared, the
        declared ones) are listed; a group of another topic and a consumer without a
        group are not; a missing topic is TopicNotFound."""
        async with ctx.broker() as broker:
            topic = await ctx.topic(broker, partitions=ctx.partitions(2))
            other = await ctx.topic(broker, "other")
            used, idle, elsewhere = ctx.group("used"), ctx.group("idle"), ctx.group("else")
            expected = {used, idle}
            async with broker.consumer(topic, used) as consumer, broker.producer() as producer:
                await producer.send(topic, b"m", key=b"k")
                await ctx.collect(consumer, 1)
            async with broker.consumer(topic, idle):
                pass  # joined, never received: a group all the same
            async with broker.consumer(other, elsewhere) as consumer, broker.producer() as p:
                await p.send(other, b"o")
                await ctx.collect(consumer, 1)
            if ctx.has(Feature.BROADCAST):
                async with broker.consumer(topic):
                    pass
            if ctx.has(Feature.DECLARED_GROUPS):
                declared = ctx.group("declared")
                await broker.create_group(topic, declared)
                expected.add(declared)
            listed = await broker.list_groups(topic)
            assert listed == sorted(expected), f"list_groups({topic!r}) = {listed}"
            assert await broker.list_groups(other) == [elsewhere]
            with pytest.raises(anymq.TopicNotFound):
                await broker.list_groups(ctx.name("missing"))
