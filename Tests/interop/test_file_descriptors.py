"""A broker with few file descriptors (RLIMIT_NOFILE 256): topic creation is refused with a clear
error before the limit, connections past it are closed, and the broker keeps serving and restarts.

Before this was handled, exhausting the descriptors killed the broker with SIGILL: libdispatch's
worker-pool monitor traps when it cannot open /proc/<tid>/stat (docs/benchmarks.md, "Scale").
"""
import resource
import socket
import time
import uuid

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


def test_descriptor_exhaustion_refuses_topics_and_connections_and_the_broker_keeps_serving(tmp_path):
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

        # Connections past the limit are closed; the broker stays up and answers.
        # Connect until the broker has refused one (on a loaded machine it accepts slowly and a connect
        # may time out in a full backlog: that is not the refusal, so keep going).
        # This (pytest's) process needs descriptors for them too, after a whole suite's clients.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 1 << 20, hard))

        def refusal_logged():
            return "refusing connection: too few file descriptors left" in broker.log_path.read_text()
        sockets = []
        deadline = time.monotonic() + 60
        while not refusal_logged() and time.monotonic() < deadline:
            if len(sockets) >= 2 * NOFILE:
                time.sleep(0.2)  # enough are queued; a slow broker is still accepting them
                continue
            try:
                sockets.append(socket.create_connection((broker.host, broker.port), timeout=5))
            except OSError:
                time.sleep(0.2)
        time.sleep(1.5)  # libdispatch's monitor runs once a second: give it the chance to trap
        assert broker.is_running(), f"the broker died with {NOFILE} connections open:\n{broker.log_tail()}"
        for sock in sockets:
            sock.close()
        assert "refusing connection: too few file descriptors left" in broker.log_path.read_text()

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
