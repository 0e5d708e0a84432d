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
        # poll() returns as soon as one record is there; consume(timeout=0) then takes what else is queued.
        # (consume with a timeout would hold records back until num_messages arrive or the timeout ends.)
        first = consumer.poll(0.2)
        if first is None:
            continue
        now = time.monotonic_ns()
        batch = [first] + consumer.consume(num_messages=10_000, timeout=0)
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


def _recv_into(sock, view):
    got = 0
    while got < len(view):
        n = sock.recv_into(view[got:])
        if n == 0:
            raise RuntimeError("the broker closed the connection")
        got += n


def raw_fetch(host, port, topic, partitions, records, max_wait_ms=100, timeout=300):
    """Consumes a topic from offset 0 with bare Fetch v4 requests (no record decoding: only batch headers
    are read, to find the next offset) until `expected_bytes` of record payload have been received in all.
    This measures what the broker can serve, where a client that builds an object per record (Python or
    any other) would measure itself. Returns the seconds taken and the bytes of record batches received."""
    import socket

    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    offsets = [0] * partitions
    name = topic.encode()
    buffer = bytearray(64 << 20)
    view = memoryview(buffer)
    received = 0
    start = time.monotonic()
    correlation = 0
    while sum(offsets) < records:
        if time.monotonic() - start > timeout:
            raise RuntimeError(f"raw fetch: offsets {offsets} short of {records} records after {timeout} s")
        correlation += 1
        body = struct.pack(">hhih", 1, 4, correlation, 5) + b"bench"
        body += struct.pack(">iiiibi", -1, max_wait_ms, 1, 52_428_800, 0, 1)
        body += struct.pack(">h", len(name)) + name + struct.pack(">i", partitions)
        for p in range(partitions):
            body += struct.pack(">iqi", p, offsets[p], 10_485_760)
        sock.sendall(struct.pack(">i", len(body)) + body)
        _recv_into(sock, view[:4])
        size = struct.unpack_from(">i", buffer, 0)[0]
        if size > len(buffer):
            buffer = bytearray(size)
            view = memoryview(buffer)
        _recv_into(sock, view[:size])
        pos = 4 + 4  # correlation id, throttle time
        (topics,) = struct.unpack_from(">i", buffer, pos)
        pos += 4
        for _ in range(topics):
            (length,) = struct.unpack_from(">h", buffer, pos)
            pos += 2 + length
            (count,) = struct.unpack_from(">i", buffer, pos)
            pos += 4
            for _ in range(count):
                index, error = struct.unpack_from(">ih", buffer, pos)
                pos += 4 + 2 + 8 + 8
                (aborted,) = struct.unpack_from(">i", buffer, pos)
                pos += 4 + max(0, aborted) * 16
                (records_size,) = struct.unpack_from(">i", buffer, pos)
                pos += 4
                if error:
                    raise RuntimeError(f"raw fetch: partition {index} error {error}")
                end = pos + max(0, records_size)
                batch = pos
                while batch + 61 <= end:
                    base, length = struct.unpack_from(">qi", buffer, batch)
                    if batch + 12 + length > end:
                        break  # a partial batch at the end of the answer
                    (delta,) = struct.unpack_from(">i", buffer, batch + 23)
                    offsets[index] = base + delta + 1
                    received += 12 + length
                    batch += 12 + length
                pos = end
    seconds = time.monotonic() - start
    sock.close()
    return {"seconds": seconds, "batch_bytes": received}
