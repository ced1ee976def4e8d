"""The raw-client baselines connect exactly where and how their plugin connects.

Each baseline builds its client from the plugin's own driver (``driver_for``), so a URL
means the same thing to both sides of the ratio. Before, each baseline read the URL
itself: ``sqs://host:port`` went to real AWS, and Kafka with a CA file picked SASL_PLAINTEXT
where the plugin picks SASL_SSL.
"""

from __future__ import annotations

import asyncio

import certifi
import pytest

import anymq
from anymq.compare.cleanup import Tracker
from anymq.compare.perf.workload import Plan
from anymq.compare.profile import for_scheme, load_baseline

TINY = Plan(
    size=64,
    count=20,
    producers=1,
    consumers=1,
    partitions=1,
    batch=10,
    prefetch=10,
    latency_samples=3,
    warmup=1,
    phase_timeout=60.0,
)


def shorthand(sqs_url: str) -> str:
    """``sqs://host:port`` of the test endpoint: no endpoint_url, no region in the query."""
    url = anymq.URL.parse(sqs_url)
    endpoint = url.query.get("endpoint_url")
    where = anymq.URL.parse(endpoint) if endpoint else url
    return f"sqs://{where.host}:{where.port}"


@pytest.mark.sqs
def test_sqs_baseline_uses_the_endpoint_in_the_url(sqs_url: str) -> None:
    """``sqs://127.0.0.1:4566`` is the local endpoint for the baseline too, not AWS."""
    url = shorthand(sqs_url)
    profile = for_scheme("sqs")
    assert profile is not None
    baseline = load_baseline(profile)
    tracker = Tracker("anymq-test-baseline")

    async def scenario() -> None:
        figures = await baseline.run_round(url, TINY, tracker)
        assert figures.produce_seconds > 0
        assert figures.consume_seconds > 0
        assert len(figures.latencies_ns) == TINY.latency_samples
        assert await tracker.cleanup() == []

    asyncio.run(scenario())
    assert tracker.created, "the baseline created no queue"
    assert tracker.failures == []


@pytest.mark.kafka
@pytest.mark.parametrize(
    "query",
    ["ssl_cafile={ca}", "security_protocol=SASL_SSL&ssl_cafile={ca}", "sasl_mechanism=PLAIN"],
)
def test_kafka_baseline_security_matches_the_plugin(query: str) -> None:
    """A CA file means TLS for the plugin, so SASL_SSL for the raw client as well."""
    from anymq_kafka.baseline import connection

    url = "kafka://user:pw@127.0.0.1:9092?" + query.format(ca=certifi.where())
    plugin = anymq.connect(url).driver.settings.client_kwargs()  # type: ignore[attr-defined]
    raw = connection(url)
    for key in ("bootstrap_servers", "security_protocol", "sasl_mechanism", "sasl_plain_username"):
        assert raw.get(key) == plugin.get(key), key
    assert raw["sasl_plain_password"] == "pw"
    if "ssl_cafile" in query:
        assert raw["security_protocol"] == "SASL_SSL"
        # the raw client trusts the same CA file as the plugin, not the system default
        assert raw["ssl_context"].get_ca_certs() == plugin["ssl_context"].get_ca_certs()
        assert raw["ssl_context"].get_ca_certs()


@pytest.mark.rabbitmq
def test_rabbitmq_baseline_connects_like_the_plugin() -> None:
    """TLS options and the vhost reach aio-pika the way the plugin passes them."""
    from anymq_rabbitmq.baseline import amqp_url

    url = f"amqps://u:p%40ss@h.example:5671/v%2Fh?cafile={certifi.where()}&heartbeat=7"
    target = amqp_url(url)
    assert target.startswith("amqps://u:p%40ss@h.example:5671/v%2Fh?")
    assert f"cafile={certifi.where().replace('/', '%2F')}" in target
    assert "heartbeat=7" in target
