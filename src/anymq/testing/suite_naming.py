"""Contract: look-alike topic and group names never share a group's storage.

Backends derive broker objects (queues, group ids) from the topic and group names. Joining
the two with a character the names may contain maps two pairs onto one object: topic ``X``
with group ``x.g`` and topic ``X.x`` with group ``g`` both give ``X.x.g``. One group then
silently loses its topic's messages and receives the other topic's instead. The test builds
such pairs for every separator the backend's name rule allows and proves each group gets
exactly its own topic's messages, labelled with that topic.
"""

from __future__ import annotations

import re

from anymq.client import Consumer
from anymq.features import Feature
from anymq.testing.context import TestContext
from anymq.testing.decorators import requires
from anymq.testing.ledger import Ledger

#: Characters names commonly use as separators (each tried where the name rule allows it).
SEPARATORS = (".", "-", "_", ":")


class NamingContract:
    """Group naming is injective: (topic, group) pairs never collide."""

    @requires(Feature.CONSUMER_GROUPS)
    async def test_group_naming_is_injective(self, ctx: TestContext) -> None:
        rule = ctx.capabilities.topic_names
        count = 3
        async with ctx.broker() as broker:
            pairs: list[tuple[str, str, str]] = []  # (topic label, topic, group)
            for index, sep in enumerate(SEPARATORS):
                short = ctx.group(f"g{index}")
                candidates = [
                    (f"n{index}", f"x{sep}{short}"),
                    (f"n{index}{sep}x", short),
                ]
                named = [(label, ctx.name(label), group) for label, group in candidates]
                every = [name for _, topic, group in named for name in (topic, group)]
                if all(re.fullmatch(rule.pattern, name) for name in every):
                    pairs += named
            assert pairs, f"no separator in {SEPARATORS} is allowed in names: {rule.description}"
            for label, _, _ in pairs:
                await ctx.topic(broker, label)
            consumers: list[Consumer] = []
            for _, topic, group in pairs:
                consumer = broker.consumer(topic, group)
                await consumer.start()
                consumers.append(consumer)
            ledgers = [
                Ledger(f"group {group!r} of topic {topic!r} (only its own topic's messages)")
                for _, topic, group in pairs
            ]
            async with broker.producer() as producer:
                for (_, topic, _), ledger in zip(pairs, ledgers, strict=True):
                    for i in range(count):
                        await producer.send(topic, ledger.expect(f"{topic}#{i}".encode()))
            for (_, topic, _), consumer, ledger in zip(pairs, consumers, ledgers, strict=True):
                got = await ctx.receive_all(consumer, ledger)
                await consumer.close()
                ledger.assert_complete(exactly_once=True)
                elsewhere = [(m.topic, m.body) for m in got if m.topic != topic]
                assert not elsewhere, f"{ledger.who} got messages naming another topic: {elsewhere}"
