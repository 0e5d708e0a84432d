"""The ACL authorizer with real clients: mTLS principals (User:alice … from client certificates through
ssl.principal.mapping.rules), a policy file, confluent-kafka producer, consumer group and admin flows
for principals with and without ACLs, Metadata hiding topics, and hot reload of the policy file.

Certificates are made per module with the openssl command (EC P-256), never committed.
"""
import os
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from conftest import BrokerProcess
from test_tls import issue, make_ca

POLICY = """version: 1
acls:
  # alice produces to the orders.* topics (and may create them).
  - principal: User:alice
    permission: allow
    operations: [Write, Describe, Create]
    resource: {type: topic, name: "orders.", pattern: prefixed}
  # bob consumes them in the group "billing".
  - principal: User:bob
    permission: allow
    operations: [Read]
    resource: {type: topic, name: "orders.", pattern: prefixed}
  - principal: User:bob
    permission: allow
    operations: [Read]
    resource: {type: group, name: billing}
  # Nobody but admin (a super user) reads orders.audit.
  - principal: "User:*"
    permission: deny
    operations: [Read]
    resource: {type: topic, name: orders.audit}
"""


def make_pki(d, clients):
    """A CA, the broker's certificate and keystore (localhost, 127.0.0.1), and a client certificate
    `/O=Example/CN=<name>` for each name (mapped to User:<name> by `mtls_broker`)."""
    make_ca(d, "ca")
    issue(d, "ca", "broker", "/CN=localhost", san="DNS:localhost,IP:127.0.0.1")
    for name in clients:
        issue(d, "ca", name, f"/O=Example/CN={name}")
    keystore = d / "broker-keystore.pem"
    keystore.write_text((d / "broker.key").read_text() + (d / "broker.crt").read_text())
    os.chmod(keystore, 0o600)
    return d


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("authz-pki"), ("admin", "alice", "bob", "carol"))


def write_atomically(path, text):
    """As an operator's deployment should: write a temporary file, then rename it over the policy."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}")
    tmp.write_text(text)
    os.replace(tmp, path)


def mtls_broker(work, pki, policy_file, policy, topics, extra_properties=None):
    """Runs a broker on one SSL listener that requires client certificates (`make_pki`'s, CN → User:<CN>),
    with User:admin a super user and the policy directory `work/policies` holding `policy_file`
    (`broker.policies`); creates `topics` as admin, yields the broker, and checks it stops cleanly."""
    policies = work / "policies"
    policies.mkdir()
    write_atomically(policies / policy_file, policy)
    broker = BrokerProcess(work, tls_ca=pki / "ca.pem", tls_client=(pki / "admin.crt", pki / "admin.key"), extra_properties={
        "listeners": "SSL://127.0.0.1:{port}",
        "ssl.keystore.location": str(pki / "broker-keystore.pem"),
        "ssl.truststore.location": str(pki / "ca.pem"),
        "ssl.client.auth": "required",
        "ssl.principal.mapping.rules": "RULE:^CN=([^,]+),O=Example$/$1/,DEFAULT",
        "super.users": "User:admin",
        "rampart.acl.policy.path": str(policies),
        **(extra_properties or {}),
    })
    broker.policies = policies
    broker.start()
    admin = AdminClient(config(broker, pki, "admin"))
    for future in admin.create_topics([NewTopic(t, num_partitions=1, replication_factor=1) for t in topics]).values():
        future.result(timeout=30)
    yield broker
    running = broker.is_running()
    code = broker.stop()
    assert running and code == 0, broker.log_tail()


@pytest.fixture(scope="module")
def broker(tmp_path_factory, pki):
    yield from mtls_broker(tmp_path_factory.mktemp("authz-broker"), pki, "orders.yaml", POLICY,
                           ("orders.eu", "orders.audit", "secret"), {"rampart.log.level": "debug"})


def config(broker, pki, who):
    return {
        "bootstrap.servers": broker.bootstrap,
        "security.protocol": "SSL",
        "ssl.ca.location": str(pki / "ca.pem"),
        "ssl.certificate.location": str(pki / f"{who}.crt"),
        "ssl.key.location": str(pki / f"{who}.key"),
    }


def produce(broker, pki, who, topic, values, idempotent=False):
    """Delivery results: None for each acked record, else the KafkaError."""
    producer = Producer({**config(broker, pki, who), "acks": "all", "enable.idempotence": idempotent,
                         "message.timeout.ms": 10000, "retries": 0 if not idempotent else 2147483647})
    results = []
    for value in values:
        producer.produce(topic, value=value, on_delivery=lambda err, msg: results.append(err))
    producer.flush(20)
    return results


def consume_all(broker, pki, who, topic, group):
    """Every record of `topic` read by `who` in `group`, or the first error the consumer reports."""
    consumer = Consumer({**config(broker, pki, who), "group.id": group, "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    values, error = [], None
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                if values:
                    break
                continue
            if msg.error():
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                error = msg.error()
                break
            values.append(msg.value().decode())
        if values:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return values, error


def test_producer_with_and_without_acls(broker, pki):
    assert produce(broker, pki, "alice", "orders.eu", ["a1", "a2", "a3"], idempotent=True) == [None] * 3
    refused = produce(broker, pki, "carol", "orders.eu", ["c1"])
    assert [e.code() if e else None for e in refused] == [KafkaError.TOPIC_AUTHORIZATION_FAILED]
    # bob may read but not write.
    refused = produce(broker, pki, "bob", "orders.eu", ["b1"])
    assert [e.code() if e else None for e in refused] == [KafkaError.TOPIC_AUTHORIZATION_FAILED]
    # Nothing of theirs reached the log.
    values, error = consume_all(broker, pki, "admin", "orders.eu", f"audit-{uuid.uuid4().hex[:6]}")
    assert error is None and values == ["a1", "a2", "a3"]
    log = broker.log_path.read_text()
    assert "authorization denied" in log and "principal=User:carol" in log


def test_consumer_group_with_and_without_acls(broker, pki):
    produce(broker, pki, "alice", "orders.eu", ["g1"], idempotent=True)
    values, error = consume_all(broker, pki, "bob", "orders.eu", "billing")
    assert error is None and "g1" in values
    # bob's committed offset is there for admin to see.
    admin = AdminClient(config(broker, pki, "admin"))
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
    committed = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions("billing", [TopicPartition("orders.eu", 0)])])
    assert committed["billing"].result(timeout=30).topic_partitions[0].offset == len(values)
    # Another group, or no ACL at all: GROUP_AUTHORIZATION_FAILED.
    _, error = consume_all(broker, pki, "bob", "orders.eu", "other-group")
    assert error is not None and error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, error
    _, error = consume_all(broker, pki, "carol", "orders.eu", "billing")
    assert error is not None and error.code() in (KafkaError.GROUP_AUTHORIZATION_FAILED, KafkaError.TOPIC_AUTHORIZATION_FAILED), error
    # DENY wins: bob's prefixed ALLOW does not reach orders.audit.
    _, error = consume_all(broker, pki, "bob", "orders.audit", "billing")
    assert error is not None and error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, error


def test_admin_flows(broker, pki):
    alice = AdminClient(config(broker, pki, "alice"))
    alice.create_topics([NewTopic("orders.new", num_partitions=1, replication_factor=1)])["orders.new"].result(timeout=30)
    with pytest.raises(KafkaException) as refused:
        alice.create_topics([NewTopic("payments", num_partitions=1, replication_factor=1)])["payments"].result(timeout=30)
    assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    with pytest.raises(KafkaException) as refused:
        alice.delete_topics(["orders.new"])["orders.new"].result(timeout=30)
    assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    with pytest.raises(KafkaException) as refused:
        alice.describe_configs([ConfigResource(ConfigResource.Type.BROKER, "1")])[ConfigResource(ConfigResource.Type.BROKER, "1")].result(timeout=30)
    assert refused.value.args[0].code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED
    carol = AdminClient(config(broker, pki, "carol"))
    with pytest.raises(KafkaException) as refused:
        carol.create_topics([NewTopic("orders.carol", num_partitions=1, replication_factor=1)])["orders.carol"].result(timeout=30)
    assert refused.value.args[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    admin = AdminClient(config(broker, pki, "admin"))
    admin.delete_topics(["orders.new"])["orders.new"].result(timeout=30)


def test_metadata_hides_topics(broker, pki):
    def visible(who):
        return {name for name in AdminClient(config(broker, pki, who)).list_topics(timeout=20).topics if not name.startswith("__")}
    assert {"orders.eu", "orders.audit", "secret"} <= visible("admin")
    assert visible("bob") >= {"orders.eu"} and "secret" not in visible("bob")
    assert all(name.startswith("orders.") for name in visible("alice"))
    assert visible("carol") == set()
    # Named, an existing topic and a missing one look the same to carol.
    carol = AdminClient(config(broker, pki, "carol"))
    for name in ("secret", "no-such-topic"):
        topic = carol.list_topics(topic=name, timeout=20).topics[name]
        assert topic.error is not None and topic.error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, (name, topic.error)


def test_policy_hot_reload(broker, pki):
    carol = AdminClient(config(broker, pki, "carol"))

    def carol_sees(topic):
        return carol.list_topics(topic=topic, timeout=10).topics[topic].error is None

    assert not carol_sees("secret")
    grant = POLICY + """  - principal: User:carol
    permission: allow
    operations: [Write]
    resource: {type: topic, name: secret}
"""
    write_atomically(broker.policies / "orders.yaml", grant)
    changed = time.monotonic()
    while not carol_sees("secret"):
        assert time.monotonic() - changed < 2.0, "the new policy was not in force within 2 s"
        time.sleep(0.05)
    elapsed = time.monotonic() - changed
    assert produce(broker, pki, "carol", "secret", ["c1"]) == [None]

    # A broken file is refused whole: the previous policy (with carol's grant) stays, the error is logged.
    write_atomically(broker.policies / "orders.yaml", grant + "  - principal: carol\n")
    deadline = time.monotonic() + 5
    while "ACL policy change refused" not in broker.log_path.read_text():
        assert time.monotonic() < deadline, broker.log_tail()
        time.sleep(0.1)
    assert "orders.yaml:" in broker.log_path.read_text()
    assert carol_sees("secret")

    # Fixed (carol's grant gone): access ends.
    write_atomically(broker.policies / "orders.yaml", POLICY)
    deadline = time.monotonic() + 2.0
    while carol_sees("secret"):
        assert time.monotonic() < deadline, "the revocation was not in force within 2 s"
        time.sleep(0.05)
    print(f"policy change in force after {elapsed:.2f} s")
