"""Clients over SSL: the `rampart` commands with `--command-config` and kafka-python, with CA and host name
verification, against a broker process with an SSL listener.

Certificates are generated per module with the openssl command (EC P-256), never committed.
"""
import os
import subprocess
import time
import uuid

import pytest

from conftest import DEFAULT_BINARY, BrokerProcess
from pki import issue, make_ca

RAMPART = os.environ.get("RAMPART_BIN", str(DEFAULT_BINARY))


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("client-certs")
    make_ca(d, "ca")
    issue(d, "ca", "broker", "/CN=localhost", san="DNS:localhost,IP:127.0.0.1")
    # Valid for 127.0.0.1 only: connecting through "localhost" is a host name mismatch.
    issue(d, "ca", "broker-ip-only", "/CN=127.0.0.1", san="IP:127.0.0.1")
    issue(d, "ca", "alice", "/O=Example/OU=eng/CN=alice")
    return d


@pytest.fixture
def ssl_broker(tmp_path, certs):
    """Starts brokers with an SSL listener (keystore `name`, ssl.client.auth) and stops them at the end."""
    started = []

    def start(keystore="broker", client_auth="none"):
        broker = BrokerProcess(tmp_path / f"broker-{len(started)}", tls_ca=certs / "ca.pem",
                               tls_client=(certs / "alice.crt", certs / "alice.key"), extra_properties={
            "listeners": "SSL://127.0.0.1:{port}",
            "ssl.keystore.location": str(certs / f"{keystore}-keystore.pem"),
            "ssl.truststore.location": str(certs / "ca.pem"),
            "ssl.client.auth": client_auth,
        })
        broker.start()
        started.append(broker)
        return broker

    yield start
    for broker in started:
        assert broker.stop() == 0, broker.log_tail()


def command_config(tmp_path, **properties):
    path = tmp_path / f"client-{uuid.uuid4().hex[:6]}.properties"
    path.write_text("".join(f"{key}={value}\n" for key, value in properties.items()))
    return path


def rampart(*args, bootstrap, config, stdin=None, timeout=60):
    return subprocess.run([RAMPART, *args, "--bootstrap-server", bootstrap, "--command-config", str(config)],
                          input=stdin, capture_output=True, text=True, timeout=timeout)


def ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    return result.stdout


def test_rampart_commands_over_ssl_with_ca_and_hostname_verification(tmp_path, certs, ssl_broker):
    broker = ssl_broker()
    config = command_config(tmp_path, **{"security.protocol": "SSL", "ssl.ca.location": certs / "ca.pem"})
    run = lambda *args, **kw: ok(rampart(*args, bootstrap=broker.bootstrap, config=config, **kw))  # noqa: E731

    assert "Created topic cli-tls." in run("topic", "create", "--topic", "cli-tls", "--partitions", "2")
    assert "cli-tls" in run("topic", "list").split()
    assert "PartitionCount: 2" in run("topic", "describe", "--topic", "cli-tls")
    lines = [f"k{i}:v{i}" for i in range(20)]
    run("produce", "--topic", "cli-tls", "--property", "parse.key=true", "--property", "key.separator=:",
        stdin="\n".join(lines) + "\n")
    out = run("consume", "--topic", "cli-tls", "--group", "cli-tls-readers", "--from-beginning",
              "--max-messages", "20", "--property", "print.key=true")
    assert sorted(out.splitlines()) == sorted(line.replace(":", "\t") for line in lines)
    assert "cli-tls-readers" in run("group", "list").split()
    assert "cli-tls" in run("group", "describe", "--group", "cli-tls-readers")
    # Through "localhost" too: the certificate names both.
    assert "cli-tls" in ok(rampart("topic", "list", bootstrap=f"localhost:{broker.port}", config=config)).split()


def test_rampart_commands_refuse_a_hostname_mismatch(tmp_path, certs, ssl_broker):
    broker = ssl_broker(keystore="broker-ip-only")
    config = command_config(tmp_path, **{"security.protocol": "SSL", "ssl.ca.location": certs / "ca.pem",
                                         "socket.connection.setup.timeout.ms": "5000"})
    started = time.monotonic()
    result = rampart("topic", "list", bootstrap=f"localhost:{broker.port}", config=config)
    assert time.monotonic() - started < 20
    assert result.returncode == 1, result
    assert result.stderr.startswith("rampart: ")
    assert f"localhost:{broker.port} over TLS" in result.stderr, result.stderr
    assert "hostname mismatch" in result.stderr and "certificate verify failed" in result.stderr, result.stderr
    # The address the certificate names works; so does turning endpoint identification off.
    ok(rampart("topic", "list", bootstrap=broker.bootstrap, config=config))
    unchecked = command_config(tmp_path, **{"security.protocol": "SSL", "ssl.ca.location": certs / "ca.pem",
                                            "ssl.endpoint.identification.algorithm": ""})
    ok(rampart("topic", "list", bootstrap=f"localhost:{broker.port}", config=unchecked))
    # A CA the broker's certificate does not chain to: refused.
    other = command_config(tmp_path, **{"security.protocol": "SSL", "ssl.ca.location": certs / "alice.crt"})
    result = rampart("topic", "list", bootstrap=broker.bootstrap, config=other)
    assert result.returncode == 1 and "certificate verify failed" in result.stderr, result.stderr


def test_rampart_commands_with_a_client_certificate(tmp_path, certs, ssl_broker):
    broker = ssl_broker(client_auth="required")
    # Java's names: PEM trust store and PEM key store (key + chain in one file).
    java = command_config(tmp_path, **{
        "security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.location": certs / "ca.pem",
        "ssl.keystore.type": "PEM", "ssl.keystore.location": certs / "alice-keystore.pem",
        "ssl.endpoint.identification.algorithm": "https",
    })
    ok(rampart("produce", "--topic", "mtls-cli", bootstrap=broker.bootstrap, config=java, stdin="one\ntwo\n"))
    # librdkafka's names: certificate and key files.
    rdkafka = command_config(tmp_path, **{
        "security.protocol": "SSL", "ssl.ca.location": certs / "ca.pem",
        "ssl.certificate.location": certs / "alice.crt", "ssl.key.location": certs / "alice.key",
    })
    out = ok(rampart("consume", "--topic", "mtls-cli", "--from-beginning", "--max-messages", "2",
                     bootstrap=broker.bootstrap, config=rdkafka))
    assert sorted(out.split()) == ["one", "two"]
    # Without a certificate the broker refuses the session: a one-line error, not a hang.
    anonymous = command_config(tmp_path, **{"security.protocol": "SSL", "ssl.ca.location": certs / "ca.pem"})
    result = rampart("topic", "list", bootstrap=broker.bootstrap, config=anonymous, timeout=30)
    assert result.returncode == 1, result
    assert "over TLS" in result.stderr and "certificate required" in result.stderr, result.stderr
    assert broker.is_running()


def test_rampart_commands_report_bad_tls_settings(tmp_path, certs, ssl_broker):
    broker = ssl_broker()
    for properties, message in [
        ({"ssl.ca.location": tmp_path / "missing.pem"}, "missing.pem: does not exist"),
        ({"ssl.truststore.type": "JKS", "ssl.truststore.location": certs / "ca.pem"}, "ssl.truststore.type: 'JKS'"),
        ({"ssl.certificate.location": certs / "alice.crt"}, "ssl.certificate.location is set without ssl.key.location"),
    ]:
        config = command_config(tmp_path, **{"security.protocol": "SSL", **properties})
        result = rampart("topic", "list", bootstrap=broker.bootstrap, config=config, timeout=30)
        assert result.returncode == 1 and message in result.stderr, result.stderr
    # SASL_SSL without a mechanism: named before anything is sent.
    sasl = command_config(tmp_path, **{"security.protocol": "SASL_SSL"})
    result = rampart("topic", "list", bootstrap=broker.bootstrap, config=sasl, timeout=30)
    assert result.returncode == 1 and "sasl.mechanism is not set" in result.stderr, result.stderr


def test_kafka_python_over_ssl_with_ca_and_hostname_verification(certs, ssl_broker):
    from kafka import KafkaConsumer, KafkaProducer

    broker = ssl_broker()
    tls = dict(bootstrap_servers=broker.bootstrap, security_protocol="SSL", ssl_cafile=str(certs / "ca.pem"),
               ssl_check_hostname=True)
    topic = f"kp-tls-{uuid.uuid4().hex[:6]}"
    producer = KafkaProducer(**tls, acks="all", request_timeout_ms=20000)
    try:
        futures = [producer.send(topic, key=f"k{i}".encode(), value=f"v{i}".encode()) for i in range(50)]
        producer.flush(timeout=30)
        assert all(f.get(timeout=30).offset >= 0 for f in futures)
    finally:
        producer.close(timeout=10)
    consumer = KafkaConsumer(topic, **tls, group_id=f"g-{uuid.uuid4().hex[:6]}", auto_offset_reset="earliest",
                             enable_auto_commit=False, consumer_timeout_ms=20000)
    values = []
    try:
        for message in consumer:
            values.append(message.value.decode())
            if len(values) == 50:
                break
    finally:
        consumer.close()
    assert sorted(values) == sorted(f"v{i}" for i in range(50))


def test_kafka_python_with_a_client_certificate(certs, ssl_broker):
    # (Refusal without a certificate is covered with confluent-kafka in test_tls.py; kafka-python only
    # gives up bootstrapping after about a minute.)
    from kafka import KafkaConsumer, KafkaProducer

    broker = ssl_broker(client_auth="required")
    tls = dict(bootstrap_servers=broker.bootstrap, security_protocol="SSL", ssl_cafile=str(certs / "ca.pem"),
               ssl_check_hostname=True)
    producer = KafkaProducer(**tls, ssl_certfile=str(certs / "alice.crt"), ssl_keyfile=str(certs / "alice.key"))
    try:
        producer.send("kp-mtls", value=b"hello").get(timeout=30)
    finally:
        producer.close(timeout=10)
    consumer = KafkaConsumer("kp-mtls", **tls, ssl_certfile=str(certs / "alice.crt"), ssl_keyfile=str(certs / "alice.key"),
                             group_id=None, auto_offset_reset="earliest", consumer_timeout_ms=20000)
    try:
        message = next(consumer, None)
        assert message is not None and message.value == b"hello"
    finally:
        consumer.close()
    assert broker.is_running()
