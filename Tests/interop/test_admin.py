"""Admin operations through confluent-kafka's AdminClient and kafka-python's KafkaAdminClient."""

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

TIMEOUT_S = 30


def make_group_with_offsets(bootstrap, topic, group):
    """An empty group holding committed offsets (a consumer that subscribed, read, committed, left)."""
    producer = Producer({"bootstrap.servers": bootstrap})
    for i in range(6):
        producer.produce(topic, value=f"v{i}".encode(), partition=0)
    assert producer.flush(TIMEOUT_S) == 0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + TIMEOUT_S
        read = 0
        while read < 6 and time.monotonic() < deadline:
            read += sum(1 for m in consumer.consume(10, timeout=0.5) if m.error() is None)
        assert read == 6, f"group consumer read {read} of 6"
        consumer.commit(offsets=[TopicPartition(topic, 0, 6)], asynchronous=False)
    finally:
        consumer.close()


def wait_for(condition, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


# -- confluent-kafka AdminClient ------------------------------------------------------------------

@pytest.fixture
def confluent_admin(bootstrap):
    from confluent_kafka.admin import AdminClient
    return AdminClient({"bootstrap.servers": bootstrap})


def test_confluent_admin_creates_describes_and_deletes_topics(confluent_admin, topic_name):
    from confluent_kafka import KafkaException, TopicCollection
    from confluent_kafka.admin import NewTopic

    futures = confluent_admin.create_topics(
        [NewTopic(topic_name, num_partitions=4, replication_factor=1, config={"retention.ms": "3600000"})])
    futures[topic_name].result(timeout=TIMEOUT_S)

    again = confluent_admin.create_topics([NewTopic(topic_name, num_partitions=1, replication_factor=1)])
    with pytest.raises(KafkaException) as exists:
        again[topic_name].result(timeout=TIMEOUT_S)
    assert exists.value.args[0].name() == "TOPIC_ALREADY_EXISTS"

    validated = confluent_admin.create_topics([NewTopic(f"{topic_name}-v", num_partitions=2, replication_factor=1)],
                                              validate_only=True)
    validated[f"{topic_name}-v"].result(timeout=TIMEOUT_S)

    described = confluent_admin.describe_topics(TopicCollection([topic_name]))[topic_name].result(timeout=TIMEOUT_S)
    assert described.name == topic_name
    assert [p.id for p in described.partitions] == [0, 1, 2, 3]
    assert all(p.leader.id == 1 and [r.id for r in p.replicas] == [1] for p in described.partitions)
    # describe_topics does not auto-create (list_topics(name) would): validate_only must have created nothing.
    with pytest.raises(KafkaException) as unknown:
        confluent_admin.describe_topics(TopicCollection([f"{topic_name}-v"]))[f"{topic_name}-v"].result(timeout=TIMEOUT_S)
    assert unknown.value.args[0].name() == "UNKNOWN_TOPIC_OR_PART", "validate_only created the topic"

    confluent_admin.delete_topics([topic_name], operation_timeout=10)[topic_name].result(timeout=TIMEOUT_S)
    missing = confluent_admin.delete_topics([topic_name])[topic_name]
    with pytest.raises(KafkaException) as unknown:
        missing.result(timeout=TIMEOUT_S)
    assert unknown.value.args[0].name() == "UNKNOWN_TOPIC_OR_PART"


def test_confluent_admin_lists_all_topics(confluent_admin, topic_name):
    """list_topics() without a name: librdkafka 2.16 sends Metadata v12 with a null topic array."""
    from confluent_kafka.admin import NewTopic

    confluent_admin.create_topics([NewTopic(topic_name, num_partitions=4, replication_factor=1)])[topic_name].result(
        timeout=TIMEOUT_S)
    metadata = confluent_admin.list_topics(timeout=TIMEOUT_S)
    assert list(metadata.brokers) == [1]
    assert topic_name in metadata.topics and len(metadata.topics[topic_name].partitions) == 4
    assert "__consumer_offsets" not in metadata.topics or metadata.topics["__consumer_offsets"].error is None

    confluent_admin.delete_topics([topic_name])[topic_name].result(timeout=TIMEOUT_S)
    wait_for(lambda: topic_name not in confluent_admin.list_topics(timeout=TIMEOUT_S).topics, "the topic to disappear")


def test_confluent_admin_describes_and_alters_configs(confluent_admin, topic_name):
    from confluent_kafka.admin import (AlterConfigOpType, ConfigEntry, ConfigResource, ConfigSource, NewTopic,
                                       ResourceType)

    confluent_admin.create_topics([NewTopic(topic_name, num_partitions=1, replication_factor=1,
                                            config={"cleanup.policy": "compact"})])[topic_name].result(timeout=TIMEOUT_S)
    resource = ConfigResource(ResourceType.TOPIC, topic_name)
    configs = confluent_admin.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)
    assert configs["cleanup.policy"].value == "compact"
    assert configs["cleanup.policy"].source == ConfigSource.DYNAMIC_TOPIC_CONFIG.value
    assert configs["retention.ms"].value == "604800000"
    assert configs["retention.ms"].is_default or configs["retention.ms"].source in (
        ConfigSource.DEFAULT_CONFIG.value, ConfigSource.STATIC_BROKER_CONFIG.value)

    incremental = ConfigResource(ResourceType.TOPIC, topic_name, incremental_configs=[
        ConfigEntry("retention.ms", "1000000", incremental_operation=AlterConfigOpType.SET)])
    confluent_admin.incremental_alter_configs([incremental])[incremental].result(timeout=TIMEOUT_S)
    configs = confluent_admin.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)
    assert configs["retention.ms"].value == "1000000"
    assert configs["cleanup.policy"].value == "compact", "incremental alter touched another config"

    # The legacy AlterConfigs replaces the whole set of topic configs.
    legacy = ConfigResource(ResourceType.TOPIC, topic_name, set_config={"max.message.bytes": "200000"})
    confluent_admin.alter_configs([legacy])[legacy].result(timeout=TIMEOUT_S)
    configs = confluent_admin.describe_configs([resource])[resource].result(timeout=TIMEOUT_S)
    assert configs["max.message.bytes"].value == "200000"
    assert configs["cleanup.policy"].value == "delete", "AlterConfigs did not reset the configs it did not name"

    broker = ConfigResource(ResourceType.BROKER, "1")
    broker_configs = confluent_admin.describe_configs([broker])[broker].result(timeout=TIMEOUT_S)
    assert broker_configs["num.partitions"].value == "3"
    assert "log.retention.hours" in broker_configs


def test_confluent_admin_creates_partitions(confluent_admin, topic_name):
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import NewPartitions, NewTopic

    confluent_admin.create_topics([NewTopic(topic_name, num_partitions=2, replication_factor=1)])[topic_name].result(
        timeout=TIMEOUT_S)
    confluent_admin.create_partitions([NewPartitions(topic_name, 5)])[topic_name].result(timeout=TIMEOUT_S)
    wait_for(lambda: len(confluent_admin.list_topics(topic_name, timeout=TIMEOUT_S).topics[topic_name].partitions) == 5,
             "5 partitions in Metadata")
    with pytest.raises(KafkaException) as shrink:
        confluent_admin.create_partitions([NewPartitions(topic_name, 3)])[topic_name].result(timeout=TIMEOUT_S)
    assert shrink.value.args[0].name() == "INVALID_PARTITIONS"


def test_confluent_admin_lists_describes_and_deletes_groups(confluent_admin, bootstrap, topic_name):
    from confluent_kafka import ConsumerGroupState

    group = f"{topic_name}-group"
    make_group_with_offsets(bootstrap, topic_name, group)

    listed = confluent_admin.list_consumer_groups().result(timeout=TIMEOUT_S)
    assert not listed.errors, listed.errors
    by_id = {g.group_id: g for g in listed.valid}
    assert group in by_id, f"groups listed: {sorted(by_id)}"
    assert by_id[group].state == ConsumerGroupState.EMPTY

    described = confluent_admin.describe_consumer_groups([group])[group].result(timeout=TIMEOUT_S)
    assert described.group_id == group
    assert described.state == ConsumerGroupState.EMPTY
    assert described.members == []
    assert described.coordinator.id == 1

    from confluent_kafka import ConsumerGroupTopicPartitions
    offsets = confluent_admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)])[group].result(
        timeout=TIMEOUT_S)
    assert [(tp.topic, tp.partition, tp.offset) for tp in offsets.topic_partitions] == [(topic_name, 0, 6)]

    confluent_admin.delete_consumer_groups([group])[group].result(timeout=TIMEOUT_S)
    listed = confluent_admin.list_consumer_groups().result(timeout=TIMEOUT_S)
    assert group not in {g.group_id for g in listed.valid}


# -- kafka-python KafkaAdminClient --------------------------------------------------------------

@pytest.fixture
def kafka_python_admin(bootstrap):
    from kafka.admin import KafkaAdminClient
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=TIMEOUT_S * 1000)
    yield admin
    admin.close()


def test_kafka_python_admin_creates_describes_and_deletes_topics(kafka_python_admin, topic_name):
    from kafka.errors import TopicAlreadyExistsError

    created = kafka_python_admin.create_topics(
        {topic_name: {"num_partitions": 3, "replication_factor": 1, "configs": {"segment.bytes": "1048576"}}})
    assert [(t["name"], t["error_code"]) for t in created["topics"]] == [(topic_name, 0)], created
    with pytest.raises(TopicAlreadyExistsError):
        kafka_python_admin.create_topics({topic_name: {"num_partitions": 3, "replication_factor": 1}})
    # Kafka >= 2.4 defaults: -1 partitions and replication factor mean the broker's defaults (3 and 1 here).
    kafka_python_admin.create_topics([f"{topic_name}-defaults"])

    assert topic_name in kafka_python_admin.list_topics()
    [described] = kafka_python_admin.describe_topics([topic_name])
    assert described["name"] == topic_name and described["error_code"] == 0
    assert sorted(p["partition_index"] for p in described["partitions"]) == [0, 1, 2]
    assert all(p["leader_id"] == 1 and p["replica_nodes"] == [1] for p in described["partitions"])
    [defaults] = kafka_python_admin.describe_topics([f"{topic_name}-defaults"])
    assert len(defaults["partitions"]) == 3

    cluster = kafka_python_admin.describe_cluster()
    assert [b["broker_id"] for b in cluster["brokers"]] == [1]

    kafka_python_admin.delete_topics([topic_name, f"{topic_name}-defaults"])
    wait_for(lambda: topic_name not in kafka_python_admin.list_topics(), "the topic to disappear")


def test_kafka_python_admin_describes_and_alters_configs(kafka_python_admin, topic_name):
    from kafka.admin import ConfigResource, ConfigResourceType

    kafka_python_admin.create_topics({topic_name: {"num_partitions": 1, "replication_factor": 1,
                                                   "configs": {"cleanup.policy": "compact"}}})
    resource = ConfigResource(ConfigResourceType.TOPIC, topic_name)

    def topic_configs(config_filter):
        described = kafka_python_admin.describe_configs([resource], config_filter=config_filter)
        return described["topic"][topic_name]

    modified = topic_configs("modified")
    assert modified["cleanup.policy"]["value"] == "compact", modified
    assert modified["cleanup.policy"]["config_source"] == "DYNAMIC_TOPIC_CONFIG"
    everything = topic_configs("all")
    assert everything["retention.ms"]["value"] == "604800000"
    assert "retention.ms" not in modified, "a default reported as modified"

    # kafka-python picks IncrementalAlterConfigs when the broker advertises it, else AlterConfigs.
    result = kafka_python_admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic_name,
                                                              configs={"retention.ms": "123456"})])
    assert result == {"topic": {topic_name: "OK"}}, result
    modified = topic_configs("modified")
    assert modified["retention.ms"]["value"] == "123456"
    assert modified["cleanup.policy"]["value"] == "compact", "altering one config reset another"

    result = kafka_python_admin.reset_configs([ConfigResource(ConfigResourceType.TOPIC, topic_name,
                                                              configs=["retention.ms"])])
    assert result == {"topic": {topic_name: "OK"}}, result
    assert topic_configs("all")["retention.ms"]["value"] == "604800000"

    broker = kafka_python_admin.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")],
                                                 config_filter="all")["broker"]["1"]
    assert broker["num.partitions"]["value"] == "3"


def test_kafka_python_admin_creates_partitions(kafka_python_admin, topic_name):
    from kafka.errors import InvalidPartitionsError

    kafka_python_admin.create_topics({topic_name: {"num_partitions": 1, "replication_factor": 1}})
    kafka_python_admin.create_partitions({topic_name: 4})
    wait_for(lambda: len(kafka_python_admin.describe_topics([topic_name])[0]["partitions"]) == 4,
             "4 partitions in Metadata")
    with pytest.raises(InvalidPartitionsError):
        kafka_python_admin.create_partitions({topic_name: 2})


def test_kafka_python_admin_lists_describes_and_deletes_groups(kafka_python_admin, bootstrap, topic_name):
    from kafka import TopicPartition as KTopicPartition

    group = f"{topic_name}-group"
    make_group_with_offsets(bootstrap, topic_name, group)

    groups = {g["group_id"]: g for g in kafka_python_admin.list_groups()}
    assert group in groups, f"groups listed: {sorted(groups)}"
    described = kafka_python_admin.describe_groups([group])[group]
    assert described["error"] is None and described["group_state"] == "Empty" and described["members"] == []

    offsets = kafka_python_admin.list_group_offsets(group)[group]
    assert {tp: o.offset for tp, o in offsets.items()} == {KTopicPartition(topic_name, 0): 6}

    # As in Kafka, a consumer group that became Empty keeps its protocol type ("consumer"); tools such
    # as kafka-consumer-groups --list rely on it.
    assert groups[group]["protocol_type"] == "consumer", f"ListGroups: {groups[group]}"
    assert described["protocol_type"] == "consumer", f"DescribeGroups: {described}"

    assert kafka_python_admin.delete_groups([group]) == {group: "OK"}
    assert group not in {g["group_id"] for g in kafka_python_admin.list_groups()}
