"""The workloads, driven by librdkafka (confluent-kafka): its producing and fetching run in its C threads;
this Python process only hands it records. Each function returns plain numbers for the results file."""
import multiprocessing
import os
import struct
import time
from array import array

from confluent_kafka import Consumer, Producer, TopicPartition

PRODUCER_DEFAULTS = {
    "linger.ms": 5,
    "batch.size": 1_000_000,
    "queue.buffering.max.messages": 1_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
    "compression.type": "none",
    "enable.idempotence": False,
    "max.in.flight.requests.per.connection": 5,
}
CONSUMER_DEFAULTS = {
    "enable.auto.commit": False,
    "fetch.max.bytes": 52_428_800,
    "max.partition.fetch.bytes": 10_485_760,
    "fetch.wait.max.ms": 100,
    "queued.max.messages.kbytes": 262_144,
}


def produce_max(client, topic, records, size, acks, **overrides):
    """Unthrottled: hands `records` records of `size` random bytes to the producer as fast as it takes them
    and waits for every acknowledgement. Returns the seconds from the first record to the last ack."""
    errors = []

    def delivered(err, _msg):
        if err is not None:
            errors.append(err)

    producer = Producer({**client, **PRODUCER_DEFAULTS, "acks": str(acks), **overrides})
    value = os.urandom(size)
    produce, poll = producer.produce, producer.poll
    start = time.monotonic()
    for _ in range(records):
        while True:
            try:
                produce(topic, value, on_delivery=delivered)
                break
            except BufferError:
                poll(0.005)
    remaining = producer.flush(300)
    seconds = time.monotonic() - start
    if remaining or errors:
        raise RuntimeError(f"{remaining} records not delivered, {len(errors)} failed (first: {errors[:1]})")
    return seconds


def consume_all(client, topic, partitions, records, timeout=300):
    """Reads `records` records from offset 0 of every partition (no group). Returns the seconds from the
    assignment to the last record."""
    consumer = Consumer({**client, **CONSUMER_DEFAULTS, "group.id": f"bench-{topic}"})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got = 0
    start = time.monotonic()
    deadline = start + timeout
    last = start
    while got < records and time.monotonic() < deadline:
        batch = consumer.consume(num_messages=10_000, timeout=1.0)
        for message in batch:
            if message.error() is None:
                got += 1
        if batch:
            last = time.monotonic()
    consumer.close()
    if got < records:
        raise RuntimeError(f"consumed {got} of {records} from {topic}")
    return last - start


def _latency_consumer(client, topic, partitions, records, cpu, ready, out):
    """Child process: reads the records and keeps, for each, now − the send time stamped in its first 8
    bytes (CLOCK_MONOTONIC, shared by the processes of one machine)."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    consumer = Consumer({**client, **CONSUMER_DEFAULTS, "group.id": f"e2e-{topic}", "fetch.wait.max.ms": 100})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    consumer.consume(num_messages=1, timeout=0.5)
    ready.set()
    latencies = array("q")
    unpack = struct.Struct(">q").unpack_from
    deadline = time.monotonic() + 120 + records / 1000
    while len(latencies) < records and time.monotonic() < deadline:
        batch = consumer.consume(num_messages=10_000, timeout=0.2)
        now = time.monotonic_ns()
        for message in batch:
            if message.error() is None:
                latencies.append(now - unpack(message.value())[0])
    consumer.close()
    out.put(latencies.tobytes())


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    rank = max(0, min(len(sorted_values) - 1, int(-(-p * len(sorted_values) // 1)) - 1))
    return sorted_values[rank]


def end_to_end(client, topic, partitions, rate, seconds, size, acks, cpu=None, linger_ms=1):
    """Produces at `rate` records/s for `seconds` (records stamped with their send time) while a consumer
    process reads them; returns the end-to-end latency percentiles in ms and the rate achieved."""
    records = max(100, int(rate * seconds))
    context = multiprocessing.get_context("spawn")
    ready, out = context.Event(), context.Queue()
    child = context.Process(target=_latency_consumer, args=(client, topic, partitions, records, cpu, ready, out))
    child.start()
    if not ready.wait(60):
        child.kill()
        raise RuntimeError("the latency consumer did not start")
    producer = Producer({**client, **PRODUCER_DEFAULTS, "acks": str(acks), "linger.ms": linger_ms})
    padding = os.urandom(max(0, size - 8))
    pack = struct.Struct(">q").pack
    produce, poll = producer.produce, producer.poll
    interval_ns = 1e9 / rate
    start = time.monotonic_ns()
    sent = 0
    while sent < records:
        now = time.monotonic_ns()
        due = min(records, int((now - start) / interval_ns) + 1)
        while sent < due:
            produce(topic, pack(time.monotonic_ns()) + padding)
            sent += 1
        poll(0)
        wait = (start + sent * interval_ns - time.monotonic_ns()) / 1e9
        if wait > 0:
            time.sleep(wait)
    achieved = records / ((time.monotonic_ns() - start) / 1e9)
    producer.flush(60)
    data = out.get(timeout=300)
    child.join(30)
    latencies = array("q")
    latencies.frombytes(data)
    values = sorted(latencies)
    if len(values) < records:
        raise RuntimeError(f"latency consumer saw {len(values)} of {records} records")
    ms = lambda ns: ns / 1e6  # noqa: E731
    return {"records": records, "rate_target": rate, "rate_achieved": achieved,
            "p50_ms": ms(percentile(values, 0.50)), "p99_ms": ms(percentile(values, 0.99)),
            "p999_ms": ms(percentile(values, 0.999)), "max_ms": ms(values[-1])}
