"""Data survives restarts and crashes: committed offsets, and every message acknowledged with acks=all."""

import random
import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

PARTITIONS = 3  # num.partitions of the fixture's broker: topics here are auto-created


def produce_values(bootstrap, topic, values_by_partition):
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2})
    failures = []
    for partition, values in values_by_partition.items():
        for value in values:
            producer.produce(topic, value=value.encode(), partition=partition,
                             on_delivery=lambda error, _msg: error and failures.append(error))
    assert producer.flush(30) == 0, "produce did not complete within 30 s"
    assert not failures, failures[:5]


def group_consumer(bootstrap, group):
    return Consumer({
        "bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
    })


def consume_until(consumer, count, timeout=30.0):
    records = []
    deadline = time.monotonic() + timeout
    while len(records) < count and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=100, timeout=0.5):
            assert msg.error() is None, f"consumer error: {msg.error()}"
            records.append((msg.partition(), msg.offset(), msg.value().decode()))
    return records


def read_everything(bootstrap, topic, timeout=40.0):
    """Every record of every partition up to the high watermarks, as {partition: [values]}."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{topic}-audit",
                         "enable.auto.commit": False})
    try:
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(PARTITIONS)}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
        values = {p: [] for p in range(PARTITIONS)}
        positions = {p: 0 for p in range(PARTITIONS)}
        deadline = time.monotonic() + timeout
        while any(positions[p] < ends[p] for p in ends) and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1000, timeout=0.5):
                assert msg.error() is None, f"consumer error: {msg.error()}"
                values[msg.partition()].append(msg.value().decode())
                positions[msg.partition()] = msg.offset() + 1
        assert all(positions[p] >= ends[p] for p in ends), f"read up to {positions}, high watermarks {ends}"
        return values
    finally:
        consumer.close()


def commit_and_check_after(private_broker, topic, restart):
    bootstrap = private_broker.bootstrap
    group = f"{topic}-group"
    produce_values(bootstrap, topic, {0: [f"p0-{i}" for i in range(10)], 1: [f"p1-{i}" for i in range(5)]})

    consumer = group_consumer(bootstrap, group)
    try:
        consumer.subscribe([topic])
        assert len(consume_until(consumer, 15)) == 15
        consumer.commit(offsets=[TopicPartition(topic, 0, 7), TopicPartition(topic, 1, 3)], asynchronous=False)
        before = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
    finally:
        consumer.close()
    assert [(tp.partition, tp.offset) for tp in before][:2] == [(0, 7), (1, 3)], before

    restart()

    consumer = group_consumer(bootstrap, group)
    try:
        after = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        assert [(tp.partition, tp.offset) for tp in after] == [(tp.partition, tp.offset) for tp in before]
        consumer.subscribe([topic])
        rest = consume_until(consumer, 5)
        time.sleep(0.5)
        rest += [(m.partition(), m.offset(), m.value().decode()) for m in consumer.consume(100, timeout=1.0)
                 if m.error() is None]
    finally:
        consumer.close()
    assert sorted(rest) == [(0, 7, "p0-7"), (0, 8, "p0-8"), (0, 9, "p0-9"), (1, 3, "p1-3"), (1, 4, "p1-4")]


def test_committed_offsets_survive_a_clean_broker_restart(private_broker, topic_name):
    commit_and_check_after(private_broker, topic_name, private_broker.restart)


def test_committed_offsets_survive_a_broker_crash(private_broker, topic_name):
    commit_and_check_after(private_broker, topic_name, private_broker.crash_and_restart)


def produce_through_crashes(private_broker, topic, kills, acked_before_kill=1500, idempotent=False, seed=0):
    """Produces with acks=all while the broker is SIGKILLed `kills` times, each after `acked_before_kill`
    more acknowledgements (± a seeded random amount); returns (acked values, failures, messages sent)."""
    rng = random.Random(seed)
    acked, failed = set(), []

    def on_delivery(error, msg):
        if error is None:
            acked.add(msg.value().decode())
        else:
            failed.append(error)

    producer = Producer({
        "bootstrap.servers": private_broker.bootstrap, "acks": "all", "linger.ms": 5,
        "message.timeout.ms": 15000, "retries": 1000, "retry.backoff.ms": 100,
        "reconnect.backoff.max.ms": 500, "enable.idempotence": idempotent,
    })
    index = 0
    target = 0
    for round_number in range(kills):
        target += acked_before_kill + (rng.randint(0, acked_before_kill // 2) if kills > 1 else 0)
        deadline = time.monotonic() + 30
        while len(acked) < target:
            assert time.monotonic() < deadline, f"only {len(acked)} acks after 30 s (round {round_number})"
            producer.produce(topic, value=f"m{index}".encode(), partition=index % PARTITIONS, on_delivery=on_delivery)
            index += 1
            producer.poll(0)
            if index % 200 == 0:
                producer.poll(0.005)
        in_flight = index - len(acked) - len(failed)
        private_broker.kill9()
        assert in_flight > 0, "nothing was in flight when the broker was killed: the test proves nothing"
        # Keep producing into the dead broker for a moment: these fail or are retried after restart.
        for _ in range(500):
            producer.produce(topic, value=f"m{index}".encode(), partition=index % PARTITIONS, on_delivery=on_delivery)
            index += 1
        producer.poll(0.5)
        private_broker.start()
    assert producer.flush(40) == 0, "producer did not finish within 40 s after the last restart"
    return acked, failed, index


def assert_no_acked_message_lost(private_broker, topic, acked):
    stored = read_everything(private_broker.bootstrap, topic)
    everything = set()
    for values in stored.values():
        everything.update(values)
    lost = acked - everything
    assert not lost, f"{len(lost)} acknowledged messages missing after the crash, e.g. {sorted(lost)[:10]}"
    return stored


def test_kill_9_during_acks_all_produce_loses_no_acknowledged_message(private_broker, topic_name):
    acked, _failed, sent = produce_through_crashes(private_broker, topic_name, kills=1)
    assert len(acked) >= 1500, f"only {len(acked)} of {sent} acknowledged"
    assert_no_acked_message_lost(private_broker, topic_name, acked)


def test_kill_9_during_idempotent_produce_loses_nothing_and_duplicates_nothing(private_broker, topic_name):
    """librdkafka's idempotent producer retries the in-flight batches after the restart; the broker's
    producer state, rebuilt from the log, must recognise the ones already written."""
    acked, failed, sent = produce_through_crashes(private_broker, topic_name, kills=1, idempotent=True)
    assert len(acked) >= 1500, f"only {len(acked)} of {sent} acknowledged"
    stored = assert_no_acked_message_lost(private_broker, topic_name, acked)
    for partition, values in stored.items():
        duplicates = sorted({v for v in values if values.count(v) > 1})
        assert not duplicates, f"partition {partition}: stored twice: {duplicates[:10]} (of {len(duplicates)})"
        order = [int(v[1:]) for v in values]
        assert order == sorted(order), f"partition {partition}: out of order after the crash"
    assert not failed, f"idempotent producer reported failures: {failed[:5]}"


@pytest.mark.full
@pytest.mark.timeout(600)
@pytest.mark.parametrize("idempotent", [False, True])
def test_repeated_kill_9_during_acks_all_produce_loses_no_acknowledged_message(private_broker, topic_name, idempotent):
    acked, _failed, sent = produce_through_crashes(private_broker, topic_name, kills=20, acked_before_kill=3000,
                                                   idempotent=idempotent, seed=42)
    assert len(acked) >= 60000, f"only {len(acked)} of {sent} acknowledged"
    stored = assert_no_acked_message_lost(private_broker, topic_name, acked)
    if idempotent:
        for partition, values in stored.items():
            assert len(values) == len(set(values)), f"partition {partition}: duplicates after crashes"
