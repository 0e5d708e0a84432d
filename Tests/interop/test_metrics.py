"""The operations endpoint (`rampart.metrics.listener`): /metrics parses with prometheus_client's
text-format parser, and its counters move as confluent-kafka produces and consumes, as a client fails
to authenticate and as the authorizer denies a request; /health answers 200 with {"status":"ok"}.
"""

import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from conftest import BrokerProcess, free_loopback_port
from test_tls import issue, make_ca

PASSWORDS = {"alice": "alice-Metrics-5d21", "bob": "bob-Metrics-8e44"}
TOKEN = "metrics-token-3b9f07"

# alice is a super user; bob may only use topics and groups named bob-*.
POLICY = """version: 1
acls:
  - principal: "User:bob"
    permission: allow
    operations: [All]
    resource: {type: topic, name: "bob-", pattern: prefixed}
"""


def rampart_binary() -> str:
    return os.environ.get("RAMPART_BIN", str(Path(__file__).resolve().parents[2] / ".build" / "debug" / "rampart"))


def add_user(config: Path, name: str, password: str):
    result = subprocess.run([rampart_binary(), "user", "add", name, "--mechanism", "SCRAM-SHA-256", "--config", str(config),
                             "--password-stdin"], input=password + "\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("metrics-broker")
    policy = workdir / "policy.yaml"
    policy.write_text(POLICY)
    token = workdir / "metrics.token"
    token.write_text(TOKEN + "\n")
    os.chmod(token, 0o600)
    certs = workdir / "certs"
    certs.mkdir()
    make_ca(certs, "ca")
    issue(certs, "ca", "broker", "/CN=localhost", san="DNS:localhost,IP:127.0.0.1")
    keystore = certs / "broker-keystore.pem"
    keystore.write_text((certs / "broker.key").read_text() + (certs / "broker.crt").read_text())
    os.chmod(keystore, 0o600)
    metrics_port = free_loopback_port()
    ssl_port = free_loopback_port()
    b = BrokerProcess(workdir, extra_properties={
        "listeners": f"SASL_PLAINTEXT://127.0.0.1:{{port}},SSL://127.0.0.1:{ssl_port}",
        "ssl.keystore.location": str(keystore),
        "sasl.enabled.mechanisms": "SCRAM-SHA-256",
        "super.users": "User:alice",
        "rampart.acl.policy.path": str(policy),
        "rampart.metrics.listener": f"127.0.0.1:{metrics_port}",
        "rampart.metrics.token.file": str(token),
        "rampart.log.level": "debug",
        "rampart.log.format": "json",
        # A test here fails a login on purpose (librdkafka retries it while the producer lives), all from
        # 127.0.0.1: without this the address backoff could refuse the next tests' good logins. The
        # backoff has its own test (test_sasl.py).
        "rampart.auth.failure.threshold": "0",
    })
    b.metrics_port = metrics_port
    b.ssl_port = ssl_port
    add_user(b.config_path, "alice", PASSWORDS["alice"])
    add_user(b.config_path, "bob", PASSWORDS["bob"])
    b.start()
    yield b
    code = b.stop()
    assert code == 0, b.log_tail()


def http_get(broker, path, token=TOKEN):
    request = urllib.request.Request(f"http://127.0.0.1:{broker.metrics_port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def scrape(broker):
    """Every sample as {(name, frozenset(labels)): value}, parsed by prometheus_client."""
    status, text = http_get(broker, "/metrics")
    assert status == 200, text
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def config(broker, user, password=None):
    return {
        "bootstrap.servers": broker.bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-256",
        "sasl.username": user,
        "sasl.password": PASSWORDS[user] if password is None else password,
    }


def test_endpoint_requires_the_token(broker):
    assert http_get(broker, "/metrics", token=None)[0] == 401
    assert http_get(broker, "/metrics", token="wrong")[0] == 401
    status, body = http_get(broker, "/health")
    assert status == 200 and json.loads(body) == {"status": "ok"}


def test_counters_move_with_produce_and_consume(broker):
    topic = f"metrics-{uuid.uuid4().hex[:8]}"
    admin = AdminClient(config(broker, "alice"))
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    before = scrape(broker)
    producer = Producer(config(broker, "alice"))
    for i in range(25):
        producer.produce(topic, value=f"value-{i}".encode() * 10)
    assert producer.flush(30) == 0
    consumer = Consumer({**config(broker, "alice"), "group.id": f"g-{topic}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    received, deadline = 0, time.time() + 30
    while received < 25 and time.time() < deadline:
        message = consumer.poll(1.0)
        if message is not None and message.error() is None:
            received += 1
    consumer.close()
    assert received == 25
    after = scrape(broker)
    assert value(after, "rampart_messages_in_total", topic=topic) == 25
    assert value(after, "rampart_bytes_in_total", topic=topic) > 25 * 70
    assert value(after, "rampart_bytes_out_total", topic=topic) >= value(after, "rampart_bytes_in_total", topic=topic)
    assert value(after, "rampart_partition_log_end_offset", topic=topic, partition="0") == 25
    assert value(after, "rampart_partition_size_bytes", topic=topic, partition="0") > 0
    free = [v for (name, _), v in after.items() if name == "rampart_log_dir_free_bytes"]
    total = [v for (name, _), v in after.items() if name == "rampart_log_dir_total_bytes"]
    assert len(free) == 1 and len(total) == 1 and 0 < free[0] <= total[0], (free, total)
    for api in ("Produce", "Fetch"):
        assert value(after, "rampart_requests_total", api=api, outcome="ok") > value(before, "rampart_requests_total", api=api, outcome="ok")
        assert value(after, "rampart_request_duration_seconds_count", api=api) > value(before, "rampart_request_duration_seconds_count", api=api)
    assert value(after, "rampart_authentication_total", mechanism="SCRAM-SHA-256", outcome="success") >= 3
    assert value(after, "rampart_connections_active", listener="SASL_PLAINTEXT") >= 0
    assert value(after, "rampart_under_replicated_partitions") == 0
    assert (("rampart_consumer_group_lag", frozenset({"group": f"g-{topic}", "topic": topic, "partition": "0"}.items()))
            in after), "no lag series for the consumer's group"
    assert value(after, "rampart_consumer_group_lag", group=f"g-{topic}", topic=topic, partition="0") == 0
    assert value(after, "rampart_fsync_duration_seconds_count") > value(before, "rampart_fsync_duration_seconds_count")


def test_failed_authentication_is_counted(broker):
    key = ("rampart_authentication_total", frozenset({"mechanism": "SCRAM-SHA-256", "outcome": "invalid_credentials"}.items()))
    before = scrape(broker).get(key, 0.0)
    producer = Producer({**config(broker, "alice", password="not-the-password"), "message.timeout.ms": 5000})
    producer.produce("bob-x", value=b"x")
    producer.flush(10)
    deadline = time.time() + 15
    while scrape(broker).get(key, 0.0) <= before and time.time() < deadline:
        time.sleep(0.2)
    assert scrape(broker).get(key, 0.0) > before


def test_authorization_denial_is_counted(broker):
    before = scrape(broker)
    denied = {"operation": "Describe", "resource_type": "Topic"}
    producer = Producer({**config(broker, "bob"), "message.timeout.ms": 5000})
    producer.produce("alice-only", value=b"x")
    producer.flush(10)
    after = scrape(broker)
    moved = sum(v for (name, labels), v in after.items() if name == "rampart_authorization_denials_total") - \
        sum(v for (name, labels), v in before.items() if name == "rampart_authorization_denials_total")
    assert moved > 0, [k for k in after if k[0] == "rampart_authorization_denials_total"]
    assert value(after, "rampart_authorization_denials_total", **denied) + \
        value(after, "rampart_authorization_denials_total", operation="Write", resource_type="Topic") > 0


def test_json_logs_are_valid_and_hold_no_password(broker):
    text = broker.log_path.read_text(errors="replace")
    for password in list(PASSWORDS.values()) + ["not-the-password", TOKEN]:
        assert password not in text, f"{password!r} found in the broker log"
    lines = [line for line in text.splitlines() if line.startswith("{")]
    assert lines
    for line in lines:
        record = json.loads(line)
        assert {"ts", "level", "logger", "msg"} <= record.keys()


def test_tls_handshake_failure_and_certificate_expiry(broker):
    key = ("rampart_tls_handshake_failures_total", frozenset({"listener": "SSL", "reason": "handshakeFailed"}.items()))
    before = scrape(broker)
    days = value(before, "rampart_tls_certificate_expiry_days", listener="SSL")
    assert 1 < days < 100 * 366
    with socket.create_connection(("127.0.0.1", broker.ssl_port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # not TLS
        try:
            sock.recv(1024)
        except OSError:
            pass
    deadline = time.time() + 10
    while scrape(broker).get(key, 0.0) <= before.get(key, 0.0) and time.time() < deadline:
        time.sleep(0.2)
    after = scrape(broker)
    assert after.get(key, 0.0) > before.get(key, 0.0), [k for k in after if k[0] == "rampart_tls_handshake_failures_total"]
