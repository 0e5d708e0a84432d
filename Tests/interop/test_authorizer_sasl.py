"""The ACL authorizer over SASL_SSL (SCRAM-SHA-512 principals) with confluent-kafka and kafka-python:
producer, consumer group and admin flows for principals with and without ACLs, Metadata hiding
topics, and a dynamic ACL granted through confluent-kafka's AdminClient taking effect for the next
request. (test_authorizer.py covers the same with mTLS principals.)
"""
import uuid

import pytest
from confluent_kafka import Consumer, KafkaError, Producer
from confluent_kafka.admin import AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient, NewTopic, ResourcePatternType, ResourceType
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from conftest import BrokerProcess
from test_sasl import add_user, sasl_certs, stop_checked  # noqa: F401  (sasl_certs: module fixture, CA and broker certificate)

USERS = {"admin": "admin-Secret-0b1d", "alice": "alice-Secret-7f3a", "bob": "bob-Secret-91c2"}

POLICY = """version: 1
acls:
  # alice produces to the orders.* topics and reads them in the group "billing".
  - principal: User:alice
    permission: allow
    operations: [Write, Read, Describe]
    resource: {type: topic, name: "orders.", pattern: prefixed}
  - principal: User:alice
    permission: allow
    operations: [Read]
    resource: {type: group, name: billing}
"""


@pytest.fixture(scope="module")
def broker(tmp_path_factory, sasl_certs):  # noqa: F811
    work = tmp_path_factory.mktemp("authz-sasl")
    policies = work / "policies"
    policies.mkdir()
    (policies / "orders.yaml").write_text(POLICY)
    broker = BrokerProcess(work, tls_ca=sasl_certs / "ca.pem", extra_properties={
        "listeners": "SASL_SSL://127.0.0.1:{port}",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "ssl.keystore.location": str(sasl_certs / "broker-keystore.pem"),
        "super.users": "User:admin",
        "rampart.acl.policy.path": str(policies),
    })
    for name, password in USERS.items():
        add_user(broker.config_path, name, "SCRAM-SHA-512", password)
    broker.start()
    admin = AdminClient(config(broker, sasl_certs, "admin"))
    for future in admin.create_topics([NewTopic(t, num_partitions=1, replication_factor=1)
                                       for t in ("orders.eu", "secret")]).values():
        future.result(timeout=30)
    yield broker
    stop_checked(broker, "SASL_SSL authorizer broker")


def config(broker, certs, who):
    return {"bootstrap.servers": broker.bootstrap, "security.protocol": "SASL_SSL", "ssl.ca.location": str(certs / "ca.pem"),
            "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": who, "sasl.password": USERS[who]}


def python_config(broker, certs, who):
    return dict(bootstrap_servers=broker.bootstrap, security_protocol="SASL_SSL", ssl_cafile=str(certs / "ca.pem"),
                sasl_mechanism="SCRAM-SHA-512", sasl_plain_username=who, sasl_plain_password=USERS[who])


def produce(broker, certs, who, topic, values):
    """Delivery results: None for each acked record, else the KafkaError."""
    producer = Producer({**config(broker, certs, who), "acks": "all", "message.timeout.ms": 10000, "retries": 0})
    results = []
    for value in values:
        producer.produce(topic, value=value, on_delivery=lambda err, msg: results.append(err))
    producer.flush(20)
    return results


def consume_group(broker, certs, who, topic, group, count, polls=40):
    """Values read by `who` in `group` from the beginning, and the first error the consumer saw."""
    consumer = Consumer({**config(broker, certs, who), "group.id": group, "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    values, error = [], None
    try:
        for _ in range(polls):
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                error = error or msg.error()
                if error.code() != KafkaError._PARTITION_EOF:
                    break
                continue
            values.append(msg.value())
            if len(values) >= count:
                break
    finally:
        consumer.close()
    return values, error


def test_confluent_kafka_producer_and_group_with_and_without_acls(broker, sasl_certs):  # noqa: F811
    marker = uuid.uuid4().hex.encode()
    assert produce(broker, sasl_certs, "alice", "orders.eu", [marker]) == [None]
    denied = produce(broker, sasl_certs, "bob", "orders.eu", [b"from-bob"])
    assert denied[0] is not None and denied[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, denied
    values, error = consume_group(broker, sasl_certs, "alice", "orders.eu", "billing", 1)
    assert marker in values, (values, error)
    # bob may not join the group: GROUP_AUTHORIZATION_FAILED before any record.
    values, error = consume_group(broker, sasl_certs, "bob", "orders.eu", "billing", 1)
    assert values == [] and error is not None and error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED, error
    # bob's record never arrived.
    values, _ = consume_group(broker, sasl_certs, "admin", "orders.eu", f"audit-{uuid.uuid4().hex[:6]}", 100, polls=10)
    assert b"from-bob" not in values


def test_metadata_hides_topics_a_principal_may_not_describe(broker, sasl_certs):  # noqa: F811
    def topics(who):
        return set(AdminClient(config(broker, sasl_certs, who)).list_topics(timeout=15).topics)
    assert {"orders.eu", "secret"} <= topics("admin")
    assert "orders.eu" in topics("alice") and "secret" not in topics("alice")
    assert not {"orders.eu", "secret"} & topics("bob")


def test_admin_flows_need_their_acls(broker, sasl_certs):  # noqa: F811
    topic = f"orders.new-{uuid.uuid4().hex[:6]}"
    alice = AdminClient(config(broker, sasl_certs, "alice"))
    futures = alice.create_topics([NewTopic(topic, 1, 1)])
    with pytest.raises(Exception) as refused:
        futures[topic].result(timeout=15)
    assert refused.value.args[0].code() in (KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED)
    admin = AdminClient(config(broker, sasl_certs, "admin"))
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=15)


def test_kafka_python_producer_and_consumer_with_and_without_acls(broker, sasl_certs):  # noqa: F811
    marker = f"py-{uuid.uuid4().hex}".encode()
    producer = KafkaProducer(acks="all", **python_config(broker, sasl_certs, "alice"))
    producer.send("orders.eu", value=marker).get(timeout=30)
    producer.close()

    consumer = KafkaConsumer("orders.eu", group_id="billing", auto_offset_reset="earliest", consumer_timeout_ms=10000,
                             **python_config(broker, sasl_certs, "alice"))
    assert marker in [m.value for m in consumer]
    consumer.close()

    producer = KafkaProducer(acks="all", retries=0, max_block_ms=10000, **python_config(broker, sasl_certs, "bob"))
    with pytest.raises(TopicAuthorizationFailedError):
        producer.send("orders.eu", value=b"from-bob").get(timeout=30)
    producer.close()

    consumer = KafkaConsumer(group_id="billing", auto_offset_reset="earliest", consumer_timeout_ms=5000,
                             **python_config(broker, sasl_certs, "bob"))
    consumer.subscribe(["orders.eu"])
    with pytest.raises((GroupAuthorizationFailedError, TopicAuthorizationFailedError)):
        list(consumer)
    consumer.close()


def test_an_acl_created_through_the_admin_client_applies_to_the_next_request(broker, sasl_certs):  # noqa: F811
    topic = f"grant-{uuid.uuid4().hex[:6]}"
    admin = AdminClient(config(broker, sasl_certs, "admin"))
    admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(timeout=15)
    before = produce(broker, sasl_certs, "bob", topic, [b"refused"])
    assert before[0] is not None and before[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    binding = AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:bob", "*",
                         AclOperation.WRITE, AclPermissionType.ALLOW)
    for future in admin.create_acls([binding]).values():
        future.result(timeout=15)
    assert produce(broker, sasl_certs, "bob", topic, [b"granted"]) == [None]
    binding_filter = AclBindingFilter(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, "User:bob", "*",
                                      AclOperation.WRITE, AclPermissionType.ALLOW)
    for future in admin.delete_acls([binding_filter]).values():
        future.result(timeout=15)
    after = produce(broker, sasl_certs, "bob", topic, [b"refused-again"])
    assert after[0] is not None and after[0].code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
