"""A 3-member confluent-kafka consumer group: rebalances on join and leave, reads every message once."""

import threading
import time

from confluent_kafka import Consumer, KafkaError, Producer

PARTITIONS = 6
GROUP_TIMEOUT_S = 40


def produce(bootstrap, topic, start, count):
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 2, "acks": "all"})
    failures = []
    for i in range(start, start + count):
        producer.produce(topic, key=f"k{i}".encode(), value=f"v{i}".encode(), partition=i % PARTITIONS,
                         on_delivery=lambda error, _msg: error and failures.append(error))
        producer.poll(0)
    assert producer.flush(30) == 0, "produce did not complete within 30 s"
    assert not failures, failures[:5]


def create_topic(bootstrap, topic):
    """Auto-creation through the producer's Metadata request would give num.partitions (3): ask for 6."""
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})  # must outlive the future
    futures = admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)],
                                  operation_timeout=10)
    futures[topic].result(timeout=30)


class Member(threading.Thread):
    """A group member that commits every record synchronously before polling again.

    With the eager protocol, partitions are revoked only inside poll(), after the previous record's
    commit, so a partition's next owner starts exactly after the last record seen: exactly once.
    """

    def __init__(self, name, bootstrap, topic, group, seen, lock):
        super().__init__(name=name, daemon=True)
        self.stop_requested = threading.Event()
        self.assignments = []  # each a sorted list of partitions
        self.errors = []
        self.seen, self.lock = seen, lock
        self.consumer = Consumer({
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "client.id": name,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 6000,
            "heartbeat.interval.ms": 500,
            "max.poll.interval.ms": 20000,
            "partition.assignment.strategy": "range",
        })
        self.consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)

    def _on_assign(self, _consumer, partitions):
        self.assignments.append(sorted(p.partition for p in partitions))

    def _on_revoke(self, _consumer, _partitions):
        self.assignments.append([])

    def current(self):
        return self.assignments[-1] if self.assignments else []

    def run(self):
        try:
            while not self.stop_requested.is_set():
                msg = self.consumer.poll(0.2)
                if msg is None:
                    continue
                if msg.error():
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        self.errors.append(str(msg.error()))
                    continue
                with self.lock:
                    self.seen.append((msg.value().decode(), self.name, msg.partition(), msg.offset()))
                self.consumer.commit(message=msg, asynchronous=False)
        except Exception as error:  # reported by the test, not lost in a thread
            self.errors.append(repr(error))
        finally:
            self.consumer.close()  # LeaveGroup: the others rebalance at once

    def leave(self):
        self.stop_requested.set()
        self.join(timeout=20)
        assert not self.is_alive(), f"{self.name} did not close within 20 s"


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_three_member_group_rebalances_on_join_and_leave_and_reads_each_message_once(bootstrap, topic_name):
    group = f"{topic_name}-group"
    create_topic(bootstrap, topic_name)
    seen, lock = [], threading.Lock()
    members = []
    try:
        produce(bootstrap, topic_name, 0, 300)
        first = Member("member-a", bootstrap, topic_name, group, seen, lock)
        members.append(first)
        first.start()
        wait_until(lambda: first.current() == list(range(PARTITIONS)), GROUP_TIMEOUT_S,
                   "the first member to own all 6 partitions")
        wait_until(lambda: len(seen) >= 50, GROUP_TIMEOUT_S, "the first member to read 50 messages")

        for name in ("member-b", "member-c"):
            member = Member(name, bootstrap, topic_name, group, seen, lock)
            members.append(member)
            member.start()

        def three_way_split():
            owned = [m.current() for m in members]
            return all(len(o) == 2 for o in owned) and sorted(sum(owned, [])) == list(range(PARTITIONS))

        wait_until(three_way_split, GROUP_TIMEOUT_S, "a rebalance giving each of 3 members 2 partitions")
        produce(bootstrap, topic_name, 300, 300)
        wait_until(lambda: len(seen) >= 600, GROUP_TIMEOUT_S, "600 messages read by the three members")

        leaving = members[1]
        leaving.leave()
        remaining = [members[0], members[2]]

        def two_way_split():
            owned = [m.current() for m in remaining]
            return all(len(o) == 3 for o in owned) and sorted(sum(owned, [])) == list(range(PARTITIONS))

        wait_until(two_way_split, GROUP_TIMEOUT_S, "a rebalance giving the 2 remaining members 3 partitions each")
        produce(bootstrap, topic_name, 600, 300)
        wait_until(lambda: len(seen) >= 900, GROUP_TIMEOUT_S, "all 900 messages read")
        time.sleep(1.0)  # a duplicate delivered late would show up now
    finally:
        for member in members:
            member.stop_requested.set()
        for member in members:
            member.join(timeout=20)
    assert all(not m.is_alive() for m in members), "a member did not close"
    errors = {m.name: m.errors for m in members if m.errors}
    assert not errors, f"consumer errors: {errors}"

    values = [value for value, *_ in seen]
    duplicates = sorted({v for v in values if values.count(v) > 1})
    assert not duplicates, f"read more than once: {duplicates[:10]} (of {len(duplicates)})"
    assert sorted(values, key=lambda v: int(v[1:])) == [f"v{i}" for i in range(900)]
    readers = {name for _, name, _, _ in seen}
    assert readers == {"member-a", "member-b", "member-c"}, f"members that read: {readers}"
    assert len(members[0].assignments) >= 5, f"member-a assignments: {members[0].assignments}"
