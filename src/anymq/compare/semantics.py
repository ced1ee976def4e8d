"""The rows of the semantics matrix: contract tests named in words, and their observations.

Every test of ``anymq.testing`` gets a row; a test this table does not know yet (the suite
grew) still gets one, labelled from its name, so the matrix never hides a result.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from anymq import deadletter


@dataclass(frozen=True, slots=True)
class Semantic:
    test: str
    label: str
    category: str
    explain: str
    """One sentence for the report: what a pass means."""


CATEGORIES = (
    "Groups",
    "Delivery",
    "Log and replay",
    "Order and partitions",
    "Retention",
    "Basics",
    "Other",
)

SEMANTICS: tuple[Semantic, ...] = (
    Semantic(
        "test_group_members_share_without_duplicates",
        "groups share without duplicates",
        "Groups",
        "Two members of one group split the messages; each message goes to one of them.",
    ),
    Semantic(
        "test_every_group_gets_every_message",
        "every group gets everything",
        "Groups",
        "Three groups on one topic each receive every message (fan-out).",
    ),
    Semantic(
        "test_consumers_without_group_each_get_everything",
        "no group: each consumer gets everything",
        "Groups",
        "Consumers without a group each receive what is sent while they listen (broadcast).",
    ),
    Semantic(
        "test_durable_group_gets_what_was_sent_while_down",
        "a group gets what was sent while it was down",
        "Groups",
        "Messages sent while every member was stopped wait for the group (durable groups).",
    ),
    Semantic(
        "test_failover_hands_unacked_messages_to_others",
        "failover: the survivor takes over",
        "Groups",
        "When a member leaves, its unacked messages go to the remaining member.",
    ),
    Semantic(
        "test_message_in_process_is_invisible_to_others",
        "a message in process is invisible to others",
        "Groups",
        "While one member holds a message, no other member of the group sees it.",
    ),
    Semantic(
        "test_group_naming_is_injective",
        "look-alike names never share a group",
        "Groups",
        "Topic X with group a.b and topic X.a with group b each get only their own messages.",
    ),
    Semantic(
        "test_declared_group_gets_what_was_sent_before_its_consumer",
        "a declared group gets what was sent before its consumer",
        "Groups",
        "A group declared with create_group receives messages sent before its first consumer"
        " starts, with the default start and with start='latest'.",
    ),
    Semantic(
        "test_declared_group_dead_letters_with_consumer_settings",
        "a declared group dead-letters with its consumer's settings",
        "Groups",
        "A group declared without max_deliveries, consumed with max_deliveries=2 and a"
        " dead_letter_topic, dead-letters a message nacked twice with its headers.",
    ),
    Semantic(
        "test_group_takes_dead_letter_settings_from_each_consumer",
        "dead-letter settings belong to the consumer",
        "Groups",
        "A group used without max_deliveries, then with it, then with another"
        " dead_letter_topic: each consumer's settings apply.",
    ),
    Semantic(
        "test_create_topic_declares_its_groups",
        "create_topic(groups=...) declares the groups",
        "Groups",
        "Groups named in create_topic (also on an existing topic) each receive every message.",
    ),
    Semantic(
        "test_declaring_again_keeps_the_group_position",
        "declaring a group again moves nothing",
        "Groups",
        "A second create_group neither loses pending messages nor replays consumed ones.",
    ),
    Semantic(
        "test_list_groups_names_the_groups_of_the_topic",
        "list_groups names the topic's groups",
        "Groups",
        "list_groups(topic) names the groups that consumed from or were declared on the"
        " topic, not a group of another topic nor a consumer without a group.",
    ),
    Semantic(
        "test_earliest_on_a_declared_group_starts_at_its_position",
        "earliest on a declared group: from its declaration",
        "Groups",
        "start='earliest' on a declared group gets what was sent after the declaration.",
    ),
    Semantic(
        "test_earliest_on_a_used_group_gets_what_waits_for_it",
        "earliest on an existing group: its oldest message",
        "Groups",
        "start='earliest' on a group used before gets the oldest message it can still get"
        " (a brand-new group of a message broker is refused with UnsupportedFeature).",
    ),
    Semantic(
        "test_declared_groups_of_a_dead_letter_topic_get_its_dead_letters",
        "declared groups of a dead-letter topic get its dead letters",
        "Groups",
        "A dead-letter topic made with create_topic(groups=...) delivers each dead letter,"
        " key and headers kept, to every declared group, read before or after it came.",
    ),
    Semantic(
        "test_bad_group_name_creates_nothing",
        "a bad group name creates nothing",
        "Groups",
        "A bad group name in create_topic(groups=...) is refused before the topic exists;"
        " create_group on a missing topic raises TopicNotFound.",
    ),
    Semantic(
        "test_nack_redelivers_with_count",
        "redelivery after nack",
        "Delivery",
        "A nacked message comes back intact with delivery_count 2.",
    ),
    Semantic(
        "test_close_without_ack_redelivers",
        "redelivery after close without ack",
        "Delivery",
        "A consumer that stops without acking gives its messages back to the group.",
    ),
    Semantic(
        "test_acked_messages_are_gone_for_the_group",
        "dropped once acked (for the group)",
        "Delivery",
        "An acked message is not delivered to the same group again; its backlog is 0.",
    ),
    Semantic(
        "test_backlog_counts_waiting_messages",
        "backlog counts waiting messages",
        "Delivery",
        "describe_group() reports how many messages wait for a group.",
    ),
    Semantic(
        "test_dead_letter_after_max_deliveries",
        "dead letter after N deliveries",
        "Delivery",
        "After max_deliveries failed attempts the message moves to the dead-letter topic.",
    ),
    Semantic(
        "test_nack_with_delay",
        "nack with a delay",
        "Delivery",
        "A message nacked with delay=1s comes back no earlier than 1 s later.",
    ),
    Semantic(
        "test_delayed_delivery",
        "delayed delivery",
        "Delivery",
        "A message sent with delay=2s becomes visible no earlier than 2 s later.",
    ),
    Semantic(
        "test_binding_pattern_selects_routing_keys",
        "routing by key pattern",
        "Delivery",
        "A consumer bound with a pattern gets only the matching routing keys.",
    ),
    Semantic(
        "test_consumed_messages_are_kept_for_new_groups",
        "kept after consumption",
        "Log and replay",
        "Messages stay after they are acked; a new group can read the history (a log).",
    ),
    Semantic(
        "test_seek_by_offset_and_earliest",
        "replay from an offset or the start",
        "Log and replay",
        "A consumer can seek back to an offset or the earliest message and read again.",
    ),
    Semantic(
        "test_seek_by_time",
        "replay from a point in time",
        "Log and replay",
        "A consumer can seek to the first message at or after a timestamp.",
    ),
    Semantic(
        "test_per_key_order_across_keys_and_partitions",
        "per-key order",
        "Order and partitions",
        "Messages with the same key arrive in the order they were sent.",
    ),
    Semantic(
        "test_key_stays_on_one_partition",
        "a key stays on one partition",
        "Order and partitions",
        "The hash partitioner puts every message of a key on the same partition.",
    ),
    Semantic(
        "test_round_robin_spreads_evenly",
        "round robin spreads evenly",
        "Order and partitions",
        "The round-robin partitioner spreads messages evenly, ignoring keys.",
    ),
    Semantic(
        "test_key_order_holds_while_a_member_joins",
        "per-key order while a member joins",
        "Order and partitions",
        "Keys stay in order, and nothing is lost, while a second member joins mid-stream.",
    ),
    Semantic(
        "test_key_order_holds_when_a_member_is_killed",
        "per-key order when a member is killed",
        "Order and partitions",
        "After a member is SIGKILLed the survivor continues each key in order; its unacked "
        "messages are redelivered.",
    ),
    Semantic(
        "test_partitions_are_spread_over_members",
        "partitions are spread over members",
        "Order and partitions",
        "Two members of a group each get their share of a 4-partition topic's partitions.",
    ),
    Semantic(
        "test_retention_by_time",
        "retention by time",
        "Retention",
        "Messages older than the retention time are removed; the newest stay.",
    ),
    Semantic(
        "test_retention_by_size",
        "retention by size",
        "Retention",
        "The oldest messages are removed once the topic holds more than the byte limit.",
    ),
    Semantic(
        "test_retention_by_count",
        "retention by count",
        "Retention",
        "The oldest messages are removed once there are more than the message limit.",
    ),
    Semantic(
        "test_roundtrip_binary_and_unicode",
        "bodies, keys and headers arrive intact",
        "Basics",
        "Binary, unicode and empty bodies, keys and headers come back exactly as sent.",
    ),
    Semantic(
        "test_roundtrip_max_size_body",
        "the largest message roundtrips",
        "Basics",
        "A message of exactly the declared size limit arrives; one byte more is refused.",
    ),
    Semantic(
        "test_topic_isolation",
        "topics are separate",
        "Basics",
        "A consumer of one topic never sees another topic's messages.",
    ),
    Semantic(
        "test_parallel_producers_lose_nothing",
        "parallel producers lose nothing",
        "Basics",
        "Four producers at once: every message arrives.",
    ),
    Semantic(
        "test_batch_send",
        "batch send",
        "Basics",
        "send_batch() delivers every message of a batch larger than the broker's limit.",
    ),
    Semantic(
        "test_invalid_batch_sends_nothing",
        "a bad batch sends nothing",
        "Basics",
        "A batch with one invalid message is refused whole; nothing is half-sent.",
    ),
    Semantic(
        "test_compressed_roundtrip",
        "compressed messages roundtrip",
        "Basics",
        "A message sent with each declared compression codec arrives intact.",
    ),
    Semantic(
        "test_unknown_codec_is_refused",
        "compression is never silently ignored",
        "Basics",
        "An unknown codec is a ConfigError naming the valid ones; no codecs: UnsupportedFeature.",
    ),
    Semantic(
        "test_json_serializer_roundtrip",
        "JSON serializer roundtrip",
        "Basics",
        "A JSON value sent with serializer='json' comes back equal.",
    ),
    Semantic(
        "test_create_topic_is_idempotent",
        "topic admin (create twice, describe, delete)",
        "Basics",
        "Creating a topic twice is harmless; describe and delete work.",
    ),
    Semantic(
        "test_missing_topic_fails_clearly",
        "a missing topic fails clearly",
        "Basics",
        "Sending to or consuming a missing topic raises TopicNotFound quickly.",
    ),
    Semantic(
        "test_invalid_names_are_refused_with_the_rule",
        "invalid names are refused with the rule",
        "Basics",
        "Bad topic and group names are refused with a message quoting the naming rule.",
    ),
    Semantic(
        "test_closed_clients_refuse_work",
        "closed clients refuse work",
        "Basics",
        "Producers, consumers and brokers raise ClosedError after close().",
    ),
    Semantic(
        "test_receive_refuses_bad_timeout_and_count",
        "bad receive timeouts and counts are refused",
        "Basics",
        "NaN, infinite, negative, str and bool values raise ConfigError before any wait.",
    ),
    Semantic(
        "test_nack_refuses_bad_delay",
        "bad nack delays are refused",
        "Basics",
        "nack(delay=NaN, inf, -1, '1', True) raises ConfigError and leaves the message unsettled.",
    ),
    Semantic(
        "test_send_refuses_bad_delay_and_linger",
        "bad send delays and linger are refused",
        "Basics",
        "Bad delays and linger values raise ConfigError (or UnsupportedFeature); nothing is sent.",
    ),
    Semantic(
        "test_refused_acks_after_close_settle_nothing",
        "a refused ack settles nothing",
        "Delivery",
        "ack, nack and ack_many after close raise ClosedError every time; the group gets the "
        "messages again.",
    ),
    Semantic(
        "test_nack_delay_over_the_limit_settles_nothing",
        "a nack delay over the limit is refused",
        "Delivery",
        "nack(delay=) over Capabilities.max_nack_delay raises ConfigError and settles nothing.",
    ),
    Semantic(
        "test_unsettled_past_max_deliveries_is_dead_lettered",
        "dead letter after N unsettled deliveries",
        "Delivery",
        "A message whose consumers close without settling it max_deliveries times is "
        "dead-lettered, not delivered again.",
    ),
    Semantic(
        "test_nacked_messages_come_back_in_key_order",
        "nacked messages keep key order",
        "Order and partitions",
        "Two messages of one key, nacked in order, come back in the order they were sent.",
    ),
    Semantic(
        "test_ack_while_closing_is_refused",
        "an ack during close is refused",
        "Delivery",
        "An ack made while its consumer is closing raises ClosedError and settles nothing.",
    ),
    Semantic(
        "test_credentials_never_shown",
        "credentials are never shown",
        "Basics",
        "Passwords never appear in str() or repr() of URLs and brokers.",
    ),
    Semantic(
        "test_metadata_over_the_limit_is_refused_and_nobody_is_hurt",
        "too large a key + headers is refused, harmlessly",
        "Basics",
        "Key + headers over the declared limit raise MessageTooLarge; others keep working.",
    ),
    Semantic(
        "test_metadata_at_the_limit_arrives_intact",
        "key + headers at the limit arrive intact",
        "Basics",
        "A key and headers of exactly the declared metadata limit come back unchanged.",
    ),
    Semantic(
        "test_generated_messages_round_trip_or_are_refused",
        "generated messages arrive intact or are refused",
        "Basics",
        "30 batches of generated keys, headers and values (hypothesis): each one arrives "
        "unchanged or is refused by anymq before anything is sent.",
    ),
    Semantic(
        "test_generated_topic_names_work_or_are_refused",
        "generated topic names work or are refused",
        "Basics",
        "Generated topic names are created, used and deleted, or refused with an anymq error.",
    ),
    Semantic(
        "test_generated_timeouts_return_or_are_refused",
        "generated timeouts return or are refused",
        "Basics",
        "receive() with generated timeouts (NaN, inf, negative, huge) returns or raises "
        "ConfigError; no message is lost or duplicated.",
    ),
    Semantic(
        "test_reserved_header_names_are_refused",
        "reserved header names are refused",
        "Basics",
        "Header names the backend uses itself raise ConfigError; nothing is sent.",
    ),
    Semantic(
        "test_long_header_names_are_kept_or_refused",
        "long header names are kept or refused",
        "Basics",
        "Names up to the declared length arrive intact; longer ones are refused, never cut.",
    ),
    Semantic(
        "test_unencodable_keys_and_header_names_are_refused",
        "unencodable keys and names are refused",
        "Basics",
        "A key or header with a lone surrogate raises an anymq error before sending.",
    ),
    Semantic(
        "test_connect_timeout_must_be_positive",
        "a nonsense connect_timeout is refused",
        "Basics",
        "connect_timeout of 0, -1, NaN or words raises ConfigError instead of a silent default.",
    ),
    Semantic(
        "test_positive_connect_timeout_is_accepted",
        "a positive connect_timeout is accepted",
        "Basics",
        "connect_timeout=0.5 is taken as given.",
    ),
    Semantic(
        "test_misspelled_boolean_option_is_refused",
        "a misspelled boolean option is refused",
        "Basics",
        "A boolean option given 'ture' raises ConfigError naming it, not a silent false.",
    ),
    Semantic(
        "test_every_declared_option_refuses_a_wrong_value",
        "every declared option refuses a wrong value",
        "Basics",
        "Each declared option given a value of the wrong form raises ConfigError naming it.",
    ),
    Semantic(
        "test_unknown_option_lists_the_valid_ones",
        "an unknown option lists the valid ones",
        "Basics",
        "A misspelled option name raises ConfigError with a did-you-mean and the valid names.",
    ),
    Semantic(
        "test_unknown_client_options_are_refused_before_sending",
        "unknown producer/consumer options are refused",
        "Basics",
        "broker.producer() and broker.consumer() refuse an undeclared option with the list.",
    ),
    Semantic(
        "test_password_never_in_debug_logs_or_errors",
        "passwords stay out of logs and errors",
        "Basics",
        "Connecting with a password, accepted or refused, logs it nowhere, even at DEBUG.",
    ),
    Semantic(
        "test_every_secret_option_stays_out_of_reprs_errors_and_logs",
        "secret options stay out of logs and errors",
        "Basics",
        "Every option the backend declares secret (a SASL or TLS key password), in the URL or "
        "as a keyword, shows in no repr, error or DEBUG log line.",
    ),
    Semantic(
        "test_unencoded_slash_in_password_is_refused_without_echo",
        "an unencoded '/' in a password is refused",
        "Basics",
        "user:12345/secret@host raises ConfigError saying to percent-encode; the secret is "
        "never echoed.",
    ),
    Semantic(
        "test_failed_consumer_start_leaves_nothing_behind",
        "a failed start leaves nothing behind",
        "Basics",
        "20 consumers that fail to start leave no task running and no child in the broker.",
    ),
    Semantic(
        "test_consumer_starts_after_a_failed_start",
        "a consumer starts after a failed start",
        "Basics",
        "The same consumer starts once its topic exists and gets what is sent next.",
    ),
    Semantic(
        "test_new_consumer_on_topic_deleted_elsewhere",
        "a topic deleted elsewhere is not found",
        "Basics",
        "A consumer started on a topic another connection deleted raises TopicNotFound.",
    ),
    Semantic(
        "test_send_to_topic_deleted_elsewhere",
        "a send to a topic deleted elsewhere fails",
        "Basics",
        "A send to a topic another connection deleted raises TopicNotFound within seconds.",
    ),
    Semantic(
        "test_live_consumer_of_topic_deleted_elsewhere",
        "a waiting consumer sees its topic deleted",
        "Basics",
        "A consumer waiting in receive() when another connection deletes its topic raises "
        "TopicNotFound within seconds, with or without a group.",
    ),
    Semantic(
        "test_unreachable_broker_is_broker_unavailable",
        "an unreachable broker is BrokerUnavailable",
        "Basics",
        "Connecting to a port nothing listens on raises BrokerUnavailable (retriable) within "
        "connect_timeout, naming the host and port.",
    ),
    Semantic(
        "test_wrong_password_is_authentication_error",
        "a wrong password is AuthenticationError",
        "Basics",
        "A password the broker refuses raises AuthenticationError (not retriable); where it "
        "checks none, a wrong one is accepted or a ConfigError, never an outage.",
    ),
    Semantic(
        "test_a_confirm_that_never_comes_is_delivery_uncertain",
        "a confirm that never comes is DeliveryUncertain",
        "Basics",
        "A send whose confirm a proxy holds back raises DeliveryUncertain (a retriable "
        "PublishError) within the backend's publish timeout; where no proxy can stand in "
        "front of the broker (in-process, clients that dial advertised addresses), a send's "
        "receipt arrives instead.",
    ),
    Semantic(
        "test_missing_topic_is_topic_not_found_everywhere",
        "a missing topic is TopicNotFound everywhere",
        "Basics",
        "send, send_batch, a consumer start and describe_topic on a missing topic each raise "
        "TopicNotFound (not retriable) naming the topic and the backend.",
    ),
    Semantic(
        "test_app_keeps_key_order_under_concurrency",
        "app: per-key order under concurrency",
        "Order and partitions",
        "anymq.App with concurrency=4 and random handler delays runs each key's messages one "
        "at a time in the order sent, never more than 4 handlers at once.",
    ),
    Semantic(
        "test_app_crash_redelivers_only_unfinished_messages",
        "app: a crash redelivers only unfinished work",
        "Delivery",
        "An App stopped mid-handler acked exactly the handlers that finished (out of order); "
        "the next run gets exactly the unfinished messages.",
    ),
    Semantic(
        "test_app_dead_letters_an_undecodable_payload",
        "app: an undecodable payload is dead-lettered",
        "Delivery",
        "A body the handler's type cannot decode goes to the dead-letter topic at once with "
        "the error's type and message, and the key's next message is handled; without dead "
        "letters the handler is refused at start (nothing is lost silently).",
    ),
    Semantic(
        "test_app_retries_with_the_backoff",
        "app: retries wait the backoff",
        "Delivery",
        "A keyed and a keyless message that fail twice are retried with a growing "
        "delivery_count (1 first), each retry at least the Backoff's delay after the failure, "
        "and the attempt that succeeds is acked; without dead letters a retry policy is "
        "refused at start.",
    ),
    Semantic(
        "test_app_retries_without_limit",
        "app: unlimited retries until success",
        "Delivery",
        "With max_deliveries=UNLIMITED a keyed message that fails 6 times (past the default "
        "limit of 5) is retried until its 7th attempt succeeds and is acked; nothing is "
        "dead-lettered, so no dead-letter topic is needed.",
    ),
    Semantic(
        "test_app_keeps_key_order_while_retrying",
        "app: a retry keeps its key's order",
        "Order and partitions",
        "While a failed message waits for its retry, its key's next message waits too and "
        "another key's messages are handled.",
    ),
    Semantic(
        "test_app_dead_letters_exhausted_retries_with_the_exception",
        "app: exhausted retries are dead-lettered",
        "Delivery",
        "A message that fails max_deliveries times goes to the dead-letter topic with the "
        "exception's type and message and its delivery count; its key's next message is "
        "handled.",
    ),
    Semantic(
        "test_app_applies_error_rules",
        "app: rules per exception",
        "Delivery",
        "on_error: a ValueError dead-letters at once, a KeyError drops (acks) the message, "
        "other errors retry; nothing is left for the group.",
    ),
    Semantic(
        "test_app_stop_drains_finished_work_and_redelivers_the_rest",
        "app: a stop drains, the rest is redelivered",
        "Delivery",
        "A stop waits for the handlers in flight and acks them; one that outlasts the drain "
        "timeout is not settled and the group's next run gets exactly that one.",
    ),
)

BY_TEST: Mapping[str, Semantic] = {s.test: s for s in SEMANTICS}


def semantic(test: str) -> Semantic:
    """The row for a test name; unknown tests get a label made from their name."""
    found = BY_TEST.get(test)
    if found is not None:
        return found
    words = test.removeprefix("test_").replace("_", " ")
    return Semantic(test, words, "Other", "A contract test added after this table was written.")


def ordered(tests: Sequence[str]) -> list[Semantic]:
    """Rows for these tests: known ones in the table's order, new ones after their category."""
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    position = {s.test: i for i, s in enumerate(SEMANTICS)}
    rows = [semantic(t) for t in dict.fromkeys(tests)]
    return sorted(
        rows,
        key=lambda s: (rank.get(s.category, len(rank)), position.get(s.test, len(position))),
    )


def requirements() -> dict[str, list[str]]:
    """Features each contract test needs (from ``@requires``); empty if pytest is missing."""
    try:
        from anymq.testing.suite import ContractSuite
    except ImportError:
        return {}
    out: dict[str, list[str]] = {}
    for name in dir(ContractSuite):
        if name.startswith("test_"):
            needs = getattr(getattr(ContractSuite, name), "anymq_requires", ())
            out[name] = [str(f) for f in needs]
    return out


# -- observations ----------------------------------------------------------------------


def _split(value: object) -> str:
    return "/".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


def _seconds(value: object) -> str:
    return f"{value:.2f} s" if isinstance(value, (int, float)) else str(value)


def _count(noun: str) -> Callable[[object], str]:
    def show(value: object) -> str:
        if isinstance(value, int):
            return f"{value} {noun}{'' if value == 1 else 's'}"
        return f"{noun}s: {value}"

    return show


def _headers(value: object) -> str:
    if isinstance(value, (list, tuple)):
        spring = sum(1 for v in value if str(v).startswith(deadletter.PREFIX))
        return f"{len(value)} headers ({spring} Spring dead-letter)"
    return str(value)


OBSERVED: Mapping[str, tuple[str, Callable[[object], str]]] = {
    "unsupported": (
        "refused with UnsupportedFeature",
        lambda v: "refuses " + (", ".join(map(str, v)) if isinstance(v, list) else str(v)),
    ),
    "share.split": ("split between members", lambda v: "split " + _split(v)),
    "compression.codecs": (
        "codecs that roundtrip",
        lambda v: ", ".join(map(str, v)) if isinstance(v, list) else str(v),
    ),
    "share.duplicates": ("duplicates while sharing", _count("duplicate")),
    "failover.handover_seconds": ("handover time", lambda v: "handover " + _seconds(v)),
    "failover.duplicates": ("duplicates after failover", _count("duplicate")),
    "parallel_producers.duplicates": ("duplicates", _count("duplicate")),
    "close_without_ack.delivery_count": (
        "delivery_count after close",
        lambda v: f"delivery_count {v}",
    ),
    "dead_letter.headers": ("dead-letter headers", _headers),
    "nack_delay.seconds": ("redelivered after", lambda v: "after " + _seconds(v)),
    "key_order.violations": ("ordering violations", _count("violation")),
    "hash_partitioner.keys_per_partition": (
        "keys per partition",
        lambda v: "keys/partition " + _split(v),
    ),
    "round_robin.per_partition": ("messages per partition", lambda v: "per partition " + _split(v)),
    "errors.unreachable": ("an unreachable address", str),
    "errors.credentials": ("credentials", lambda v: f"credentials {v}"),
    "errors.confirm_timeout": ("a confirm that never comes", str),
    "retention.seconds_until_trimmed": (
        "time until trimmed",
        lambda v: "trimmed after " + _seconds(v),
    ),
}

#: Observed values drawn as small bar charts (a spread over partitions or members).
SPREADS = ("share.split", "hash_partitioner.keys_per_partition", "round_robin.per_partition")


def describe(key: str, value: object) -> str:
    """An observation as a few words for a table cell."""
    entry = OBSERVED.get(key)
    if entry is None:
        return f"{key.split('.')[-1].replace('_', ' ')}: {value}"
    return entry[1](value)
