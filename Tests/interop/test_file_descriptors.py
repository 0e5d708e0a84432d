"""A broker with few file descriptors (RLIMIT_NOFILE 256): topic creation is refused with a clear
error before the limit, and the broker keeps serving and restarts; connections past the limit are
closed (in `make interop-full`).

Before this was handled, exhausting the descriptors killed the broker with SIGILL: libdispatch's
worker-pool monitor traps when it cannot open /proc/<tid>/stat (docs/benchmarks.md, "Scale").
"""
import resource
import socket
import struct
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import BrokerProcess

NOFILE = 256


def produce(bootstrap, topic, count, tag):
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "message.timeout.ms": 10000})
    failures = []
    for i in range(count):
        producer.produce(topic, f"{tag}-{i}".encode(), on_delivery=lambda err, _msg: err and failures.append(err))
    assert producer.flush(15) == 0, "records left undelivered"
    assert not failures, failures


def consume(bootstrap, topic, count):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"fd-{uuid.uuid4().hex[:8]}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    values = []
    deadline = time.monotonic() + 15
    while len(values) < count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            values.append(message.value().decode())
    consumer.close()
    return values


def test_descriptor_exhaustion_refuses_topics_and_the_broker_keeps_serving(tmp_path):
    broker = BrokerProcess(tmp_path / "broker", nofile=NOFILE)
    broker.start()
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        # A topic used before and after, read by a consumer group (which creates __consumer_offsets).
        produce(broker.bootstrap, "fd-live", 20, "before")
        assert len(consume(broker.bootstrap, "fd-live", 20)) == 20

        created, refused = [], None
        for batch in range(20):
            names = [f"fd-{batch:02d}-{i}" for i in range(4)]
            for name, future in admin.create_topics([NewTopic(n, 8, 1) for n in names], request_timeout=15).items():
                try:
                    future.result(15)
                    created.append(name)
                except KafkaException as error:
                    refused = (name, error.args[0])
            if refused:
                break
        assert refused, f"{len(created)} topics of 8 partitions fit in {NOFILE} descriptors: nothing was refused"
        name, error = refused
        assert error.name() == "POLICY_VIOLATION", error
        assert "RLIMIT_NOFILE" in error.str() and str(NOFILE) in error.str(), error.str()
        assert broker.is_running()
        topics = admin.list_topics(timeout=10).topics
        assert name not in topics, "a refused topic must not appear in the metadata"
        assert not list((broker.data_dir).glob(f"{name}-*")), "nor on disk"
        assert all(t in topics for t in created)
        assert broker.open_descriptors() < NOFILE - 32

        produce(broker.bootstrap, "fd-live", 20, "after")
        values = consume(broker.bootstrap, "fd-live", 40)
        expected = [f"{tag}-{i}" for tag in ("before", "after") for i in range(20)]
        assert sorted(values) == sorted(expected), values  # 3 partitions: no total order
        produce(broker.bootstrap, created[0], 5, "new")
        assert len(consume(broker.bootstrap, created[0], 5)) == 5

        broker.restart()
        topics = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(timeout=10).topics
        assert all(t in topics for t in created) and name not in topics
        assert len(consume(broker.bootstrap, "fd-live", 40)) == 40
    finally:
        code = broker.stop()
    assert code == 0, f"broker exited with {code}:\n{broker.log_tail()}"


@pytest.mark.full
def test_connections_past_the_descriptor_limit_are_refused_and_the_broker_keeps_serving(tmp_path):
    """Connections opened one at a time (each answering an ApiVersions before the next) until the broker
    closes one unanswered: the refusal is logged, the broker lives on and serves. In `make interop-full`
    only: in some runs after the topic test filled the budget, a connection near the limit went
    unanswered without the refusal; the cause is not established (issue 8's notes)."""
    broker = BrokerProcess(tmp_path / "broker", nofile=NOFILE)
    broker.start()
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 1 << 20, hard))
        api_versions_v0 = struct.pack(">ihhih", 10, 18, 0, 1, -1)
        sockets, refused_connection = [], False
        while len(sockets) < 2 * NOFILE:
            sock = socket.create_connection((broker.host, broker.port), timeout=30)
            try:
                sock.sendall(api_versions_v0)
                answered = len(sock.recv(4)) == 4
            except OSError:
                answered = False
            if not answered:
                sock.close()
                refused_connection = True
                break
            sockets.append(sock)
        assert refused_connection, f"{len(sockets)} connections were all served with {NOFILE} descriptors"
        time.sleep(1.5)  # libdispatch's monitor runs once a second: give it the chance to trap
        assert broker.is_running(), f"the broker died with {NOFILE} connections open:\n{broker.log_tail()}"
        open_then = broker.open_descriptors()
        for sock in sockets:
            sock.close()
        assert "refusing connection: too few file descriptors left" in broker.log_path.read_text(), \
            f"{len(sockets)} connections served, then one unanswered; broker descriptors {open_then}: {broker.log_tail()}"
        produce(broker.bootstrap, "fd-after", 5, "after")
        assert len(consume(broker.bootstrap, "fd-after", 5)) == 5
    finally:
        code = broker.stop()
    assert code == 0, f"broker exited with {code}:\n{broker.log_tail()}"
