"""SSL listeners: unmodified clients over TLS with CA and hostname verification, and mTLS.

Certificates are generated per test session with the openssl command (EC P-256), never committed.
"""
import os
import socket
import struct
import subprocess
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from conftest import BrokerProcess
from pki import issue, make_ca  # noqa: F401 (other suites import them from here)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    make_ca(d, "ca")
    make_ca(d, "other-ca")
    issue(d, "ca", "broker", "/CN=localhost", san="DNS:localhost,IP:127.0.0.1")
    issue(d, "ca", "alice", "/O=Example/OU=eng/CN=alice")
    issue(d, "other-ca", "mallory", "/CN=mallory")
    return d


def ssl_broker(tmp_path, certs, client_auth="none"):
    broker = BrokerProcess(tmp_path / "broker", tls_ca=certs / "ca.pem",
                           tls_client=(certs / "alice.crt", certs / "alice.key"), extra_properties={
        "listeners": "SSL://127.0.0.1:{port}",
        "ssl.keystore.location": str(certs / "broker-keystore.pem"),
        "ssl.truststore.location": str(certs / "ca.pem"),
        "ssl.client.auth": client_auth,
    })
    broker.start()
    return broker


def client_config(broker, certs, client=None):
    config = {
        "bootstrap.servers": f"{broker.host}:{broker.port}",
        "security.protocol": "SSL",
        "ssl.ca.location": str(certs / "ca.pem"),
        "ssl.endpoint.identification.algorithm": "https",
    }
    if client:
        config["ssl.certificate.location"] = str(certs / f"{client}.crt")
        config["ssl.key.location"] = str(certs / f"{client}.key")
    return config


def produce_and_consume(config, topic, count=50):
    producer = Producer({**config, "acks": "all", "enable.idempotence": True, "compression.type": "lz4"})
    acked = []
    for i in range(count):
        producer.produce(topic, key=f"k{i}", value=f"v{i}", on_delivery=lambda err, msg: acked.append(err))
    producer.flush(30)
    assert len(acked) == count and not any(acked), acked[:3]
    consumer = Consumer({**config, "group.id": f"g-{uuid.uuid4().hex[:6]}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    values = []
    try:
        for _ in range(300):
            msg = consumer.poll(0.2)
            if msg is None or msg.error():
                if len(values) == count:
                    break
                continue
            values.append(msg.value().decode())
            if len(values) == count:
                break
    finally:
        consumer.close()
    assert sorted(values) == sorted(f"v{i}" for i in range(count))


def test_confluent_kafka_over_ssl_with_ca_and_hostname_verification(tmp_path, certs):
    broker = ssl_broker(tmp_path, certs)
    try:
        produce_and_consume(client_config(broker, certs), "tls-topic")
    finally:
        assert broker.stop() == 0


def test_kcat_over_ssl(tmp_path, certs):
    broker = ssl_broker(tmp_path, certs)
    try:
        common = ["kcat", "-b", f"{broker.host}:{broker.port}", "-X", "security.protocol=ssl",
                  "-X", f"ssl.ca.location={certs / 'ca.pem'}"]
        subprocess.run(common + ["-P", "-t", "kcat-tls"], input=b"one\ntwo\n", check=True, timeout=30)
        out = subprocess.run(common + ["-C", "-t", "kcat-tls", "-o", "beginning", "-e", "-q"],
                             check=True, timeout=30, capture_output=True).stdout
        assert sorted(out.split()) == [b"one", b"two"]
    finally:
        assert broker.stop() == 0


def test_mtls_required(tmp_path, certs):
    broker = ssl_broker(tmp_path, certs, client_auth="required")
    try:
        # A certificate from the trusted CA works.
        produce_and_consume(client_config(broker, certs, client="alice"), "mtls-topic", count=10)
        # No certificate, or one from another CA: refused.
        for client in (None, "mallory"):
            admin = AdminClient({**client_config(broker, certs, client=client), "socket.timeout.ms": 3000})
            with pytest.raises(KafkaException):
                admin.list_topics(timeout=4)
        assert broker.is_running()
    finally:
        assert broker.stop() == 0


def test_plaintext_client_against_the_tls_port_is_closed(tmp_path, certs):
    broker = ssl_broker(tmp_path, certs)
    try:
        with socket.create_connection((broker.host, broker.port), timeout=5) as sock:
            body = struct.pack(">hhih", 18, 0, 1, -1)
            sock.sendall(struct.pack(">i", len(body)) + body)
            sock.settimeout(12)
            data = sock.recv(4096)
            # Either closed at once or a TLS alert record (content type 21) before the close.
            assert data == b"" or data[0] == 21
        produce_and_consume(client_config(broker, certs), "after-garbage", count=5)
    finally:
        assert broker.stop() == 0


def test_a_keystore_readable_by_others_stops_start_up(tmp_path, certs):
    readable = tmp_path / "readable-keystore.pem"
    readable.write_text((certs / "broker-keystore.pem").read_text())
    os.chmod(readable, 0o644)
    config = tmp_path / "server.properties"
    config.write_text(f"listeners=SSL://127.0.0.1:1\nlog.dirs={tmp_path / 'data'}\nssl.keystore.location={readable}\n")
    binary = os.environ.get("RAMPART_BIN", ".build/debug/rampart")
    result = subprocess.run([binary, "serve", "--config", str(config)], capture_output=True, timeout=30)
    assert result.returncode != 0
    assert b"mode 644" in result.stderr and str(readable).encode() in result.stderr
