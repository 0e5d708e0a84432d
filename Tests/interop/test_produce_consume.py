"""Each client produces with every codec and consumes everything back: keys, values, headers, order, offsets.

Topics are auto-created by the producers' Metadata requests (the fixture sets num.partitions=3).
Consumers assign partitions manually, so these tests need Produce/Fetch/ListOffsets but no groups.
"""

import asyncio
import time

import pytest

from messages import CODECS, assert_same_contents, expected_by_partition, make_messages, normalize_headers

PARTITIONS = 3
COUNT = 240
CONSUME_TIMEOUT_S = 30


def _confluent_codec(codec):
    return codec


def _python_codec(codec):
    return None if codec == "none" else codec


# -- confluent-kafka (librdkafka 2.x) -------------------------------------------------------------

@pytest.mark.parametrize("codec", CODECS)
def test_confluent_kafka_produces_and_consumes_every_codec(bootstrap, topic_name, codec):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

    messages = make_messages(COUNT, PARTITIONS, tag=f"ck-{codec}")
    errors = []
    acked = []

    def on_delivery(error, message):
        (errors if error else acked).append(error or message.offset())

    producer = Producer({
        "bootstrap.servers": bootstrap,
        "compression.type": _confluent_codec(codec),
        "linger.ms": 5,
        "batch.num.messages": 50,
        "acks": "all",
        "message.timeout.ms": 20000,
    })
    for m in messages:
        producer.produce(topic_name, key=m.key, value=m.value, headers=list(m.headers) or None,
                         partition=m.partition, on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(30)
    assert remaining == 0, f"{remaining} messages still undelivered after 30 s"
    assert not errors, f"delivery errors: {errors[:5]}"
    assert len(acked) == COUNT

    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"{topic_name}-reader",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    try:
        consumer.assign([TopicPartition(topic_name, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        consumed, offsets = {}, {}
        total = 0
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        while total < COUNT and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=500, timeout=1.0):
                assert msg.error() is None, f"consumer error: {msg.error()}"
                consumed.setdefault(msg.partition(), []).append(
                    (msg.key(), msg.value(), normalize_headers(msg.headers())))
                offsets.setdefault(msg.partition(), []).append(msg.offset())
                total += 1
    finally:
        consumer.close()
    assert_same_contents(expected_by_partition(messages), consumed, offsets)


# -- kafka-python 3 (idempotent by default) --------------------------------------------------------

@pytest.mark.parametrize("codec", CODECS)
def test_kafka_python_idempotent_produces_and_consumes_every_codec(bootstrap, topic_name, codec):
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition

    messages = make_messages(COUNT, PARTITIONS, tag=f"kp-{codec}")
    producer = KafkaProducer(bootstrap_servers=bootstrap, compression_type=_python_codec(codec),
                             linger_ms=5, request_timeout_ms=20000)
    try:
        # kafka-python 3's defaults, which make it need InitProducerId and sequence checks.
        assert producer.config["enable_idempotence"] is True
        assert producer.config["acks"] in (-1, "all")
        futures = [producer.send(topic_name, key=m.key, value=m.value, headers=list(m.headers),
                                 partition=m.partition) for m in messages]
        producer.flush(timeout=30)
        metadata = [f.get(timeout=30) for f in futures]
    finally:
        producer.close(timeout=10)
    assert len(metadata) == COUNT

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", request_timeout_ms=30000)
    try:
        partitions = [TopicPartition(topic_name, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        consumed, offsets = {}, {}
        total = 0
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        while total < COUNT and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=1000).items():
                for r in records:
                    consumed.setdefault(tp.partition, []).append((r.key, r.value, normalize_headers(r.headers)))
                    offsets.setdefault(tp.partition, []).append(r.offset)
                    total += 1
    finally:
        consumer.close()
    assert_same_contents(expected_by_partition(messages), consumed, offsets)


# -- aiokafka ------------------------------------------------------------------------------------

async def _aiokafka_round_trip(bootstrap, topic, codec, messages):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.structs import TopicPartition

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, compression_type=_python_codec(codec),
                                linger_ms=5, acks="all", request_timeout_ms=20000)
    await producer.start()
    try:
        futures = [await producer.send(topic, key=m.key, value=m.value, headers=list(m.headers),
                                       partition=m.partition) for m in messages]
        await asyncio.wait_for(asyncio.gather(*futures), timeout=30)
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    consumed, offsets = {}, {}
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        total = 0
        deadline = time.monotonic() + CONSUME_TIMEOUT_S
        while total < len(messages) and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for tp, records in batches.items():
                for r in records:
                    consumed.setdefault(tp.partition, []).append((r.key, r.value, normalize_headers(r.headers)))
                    offsets.setdefault(tp.partition, []).append(r.offset)
                    total += 1
    finally:
        await consumer.stop()
    return consumed, offsets


@pytest.mark.parametrize("codec", CODECS)
def test_aiokafka_produces_and_consumes_every_codec(bootstrap, topic_name, codec):
    messages = make_messages(COUNT, PARTITIONS, tag=f"aio-{codec}")
    consumed, offsets = asyncio.run(asyncio.wait_for(
        _aiokafka_round_trip(bootstrap, topic_name, codec, messages), timeout=90))
    assert_same_contents(expected_by_partition(messages), consumed, offsets)
