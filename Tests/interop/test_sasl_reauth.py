"""SASL re-authentication (KIP-368) with real clients: `connections.max.reauth.ms` gives every SASL session a
lifetime. confluent-kafka (librdkafka ≥ 2.2 re-authenticates) keeps its connections working across several
lifetimes; a client that does not re-authenticate (kcat's librdkafka 2.0.2) has its connection closed at its
next request after the lifetime, reconnects, and carries on.
"""
import re
import shutil
import subprocess
import time
import uuid

import pytest
from confluent_kafka import KafkaError, Producer

from conftest import BrokerProcess
from test_sasl import (PASSWORDS, add_user, assert_never_consumed, consumed_values, rampart_binary,  # noqa: F401  (rampart_binary: same binary)
                       stop_checked)

REAUTH_MS = 2000
KCAT = shutil.which("kcat")


@pytest.fixture(scope="module")
def reauth_broker(tmp_path_factory):
    broker = BrokerProcess(tmp_path_factory.mktemp("reauth-broker"), extra_properties={
        "listeners": "SASL_PLAINTEXT://127.0.0.1:{port}",
        "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
        "connections.max.reauth.ms": str(REAUTH_MS),
        "rampart.log.level": "debug",
    })
    add_user(broker.config_path, "alice", "SCRAM-SHA-512", PASSWORDS["alice"])
    add_user(broker.config_path, "bob", "SCRAM-SHA-512", PASSWORDS["bob"])
    broker.start()
    yield broker
    stop_checked(broker, "re-authentication broker")


def config(broker, user="alice"):
    return {"bootstrap.servers": broker.bootstrap, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-512",
            "sasl.username": user, "sasl.password": PASSWORDS[user]}


def log_count(broker, pattern):
    return len(re.findall(pattern, broker.log_path.read_text(errors="replace")))


def test_confluent_kafka_reauthenticates_across_several_lifetimes(reauth_broker):
    topic = f"reauth-{uuid.uuid4().hex[:6]}"
    expired_before = log_count(reauth_broker, "SASL session expired")
    reauth_before = log_count(reauth_broker, "re-authenticated")
    errors, delivered = [], []
    producer = Producer({**config(reauth_broker), "error_cb": lambda err: errors.append(err), "acks": "all",
                         "enable.idempotence": True, "linger.ms": 0})
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < 4.5 * REAUTH_MS / 1000:
        producer.produce(topic, value=f"v{sent}".encode(), on_delivery=lambda err, msg: delivered.append(err))
        sent += 1
        producer.poll(0.1)
    assert producer.flush(30) == 0
    assert len(delivered) == sent and not any(delivered), [str(e) for e in delivered if e][:3]
    assert not [e for e in errors if e.code() != KafkaError._TRANSPORT], [str(e) for e in errors]
    # Every connection re-authenticated in place: several times, and none was closed for an expired session.
    assert log_count(reauth_broker, "re-authenticated") - reauth_before >= 3, reauth_broker.log_tail()
    assert log_count(reauth_broker, "SASL session expired") == expired_before, reauth_broker.log_tail()
    assert not errors, [str(e) for e in errors]

    assert sorted(consumed_values(config(reauth_broker), topic, sent)) == sorted(f"v{i}" for i in range(sent))


def test_a_client_that_does_not_reauthenticate_is_closed_after_the_lifetime(reauth_broker):
    """kcat's librdkafka 2.0.2 predates client re-authentication (librdkafka 2.2): its connection outlives the
    session, and its next request (here: the produce kcat sends once its input ends) closes the connection
    instead of being served (Kafka's rule)."""
    assert KCAT, "kcat is not installed"
    topic = f"no-reauth-{uuid.uuid4().hex[:6]}"
    expired_before = log_count(reauth_broker, "SASL session expired")
    kcat = subprocess.Popen([KCAT, "-b", reauth_broker.bootstrap, "-X", "security.protocol=SASL_PLAINTEXT", "-X",
                             "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=bob", "-X", f"sasl.password={PASSWORDS['bob']}",
                             "-P", "-t", topic], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    kcat.stdin.write(b"late\n")
    kcat.stdin.flush()
    time.sleep(REAUTH_MS / 1000 + 1.0)
    kcat.stdin.close()
    kcat.wait(timeout=30)
    assert b"Disconnected" in kcat.stderr.read()
    assert log_count(reauth_broker, "SASL session expired") == expired_before + 1, reauth_broker.log_tail()
    # Nothing was written by the expired session.
    assert_never_consumed(config(reauth_broker, "bob"), topic, b"late")
