"""A broker with few file descriptors (RLIMIT_NOFILE 256): topic creation is refused with a clear
error before the limit, and the broker keeps serving and restarts; past the limit the listener stops
accepting (new connections wait) and starts again when connections close.

Before this was handled, exhausting the descriptors killed the broker with SIGILL: libdispatch's
worker-pool monitor traps when it cannot open /proc/<tid>/stat (docs/benchmarks.md, "Scale").
"""
import resource
import select
import socket
import struct
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import BrokerProcess

NOFILE = 256
API_VERSIONS_V0 = struct.pack(">ihhih", 10, 18, 0, 1, -1)


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

        # With the budget filled by partitions, the few descriptors left for connections run out first
        # (a connection near the limit once went unanswered here, its refusal never logged).
        connections_wait_past_the_limit(broker, at_least=10)

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


PAUSED = "stopped accepting connections: too few file descriptors left"
RESUMED = "accepting connections again"


def answered_within(sock, seconds):
    """Whether the broker answers the ApiVersions sent on `sock` within `seconds` (False on a close)."""
    readable, _, _ = select.select([sock], [], [], seconds)
    if not readable:
        return False
    try:
        return len(sock.recv(4)) == 4
    except OSError:
        return False


def connections_wait_past_the_limit(broker, at_least):
    """Connections opened one at a time (each answering an ApiVersions before the next) until the broker
    has no descriptors to spare: it stops accepting (one warning naming the figures), the next connection
    waits in the listen backlog unanswered, the broker lives on and the open connections keep working;
    when connections close it accepts again and answers the one that waited (docs/operations.md, "File
    descriptors"). At least `at_least` connections are served first."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 1 << 20, hard))

    def log():
        return broker.log_path.read_text()

    paused_before = log().count(PAUSED)
    resumed_before = log().count(RESUMED)
    sockets = []
    try:
        # Served until the broker pauses (logged before it answers the connection that fills its budget)
        # or, should a connection be refused after accept instead, until one is closed unanswered.
        while log().count(PAUSED) == paused_before and len(sockets) < 2 * NOFILE:
            sock = socket.create_connection((broker.host, broker.port), timeout=30)
            sock.sendall(API_VERSIONS_V0)
            if not answered_within(sock, 30):
                sock.close()
                assert "refusing connection: too few file descriptors left" in log(), \
                    f"connection {len(sockets) + 1} unanswered, neither paused nor refused: {broker.log_tail()}"
                break
            sockets.append(sock)
        deadline = time.monotonic() + 10
        while log().count(PAUSED) == paused_before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert log().count(PAUSED) == paused_before + 1, \
            f"{len(sockets)} connections served with {NOFILE} descriptors, one pause expected: {broker.log_tail()}"
        assert len(sockets) >= at_least, f"paused after only {len(sockets)} connections"

        # Past the limit a connection waits in the backlog: not answered, not closed, nothing spinning.
        waiting = socket.create_connection((broker.host, broker.port), timeout=30)
        sockets.append(waiting)
        waiting.sendall(API_VERSIONS_V0)
        assert not answered_within(waiting, 2), "a connection past the descriptor limit was served"
        time.sleep(1.5)  # libdispatch's monitor runs once a second: give it the chance to trap
        assert broker.is_running(), f"the broker died with {NOFILE} descriptors in use:\n{broker.log_tail()}"
        assert broker.open_descriptors() < NOFILE - 16, "the listener took descriptors kept free"
        # Open connections keep working while the listener is paused.
        sockets[0].sendall(API_VERSIONS_V0)
        assert answered_within(sockets[0], 30)

        # Closing connections frees descriptors: the listener resumes and serves the one that waited.
        for sock in sockets[-11:-1]:
            sock.close()
        del sockets[-11:-1]
        assert answered_within(waiting, 30), f"the waiting connection was not served after descriptors freed: {broker.log_tail()}"
        assert log().count(RESUMED) == resumed_before + 1, broker.log_tail()
    finally:
        for sock in sockets:
            sock.close()


def test_connections_past_the_descriptor_limit_wait_and_the_broker_keeps_serving(tmp_path):
    """A fresh broker: a couple of hundred connections, then the listener pauses and resumes (see
    connections_wait_past_the_limit); afterwards it produces and consumes."""
    broker = BrokerProcess(tmp_path / "broker", nofile=NOFILE)
    broker.start()
    try:
        connections_wait_past_the_limit(broker, at_least=150)
        produce(broker.bootstrap, "fd-after", 5, "after")
        assert len(consume(broker.bootstrap, "fd-after", 5)) == 5
    finally:
        code = broker.stop()
    assert code == 0, f"broker exited with {code}:\n{broker.log_tail()}"
