"""SASL listeners: unmodified clients authenticate with SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN.

One broker for the module with two listeners: SASL_PLAINTEXT (SCRAM only, through the
`listener.name.sasl_plaintext.` override) and SASL_SSL (SCRAM and PLAIN). Users are created offline
with `rampart user add --config … --password-stdin` before the broker starts, as an operator would.
"""
import os
import shutil
import socket
import struct
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import (AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialDeletion,
                                   UserScramCredentialUpsertion)
from kafka import KafkaConsumer, KafkaProducer

import kafkawire
from conftest import BrokerProcess, free_loopback_port
from test_tls import issue, make_ca

KCAT = shutil.which("kcat")
PASSWORDS = {"alice": "alice-Secret-7f3a", "bob": "bob-Secret-91c2"}


def rampart_binary() -> str:
    return os.environ.get("RAMPART_BIN", str(Path(__file__).resolve().parents[2] / ".build" / "debug" / "rampart"))


def add_user(config: Path, name: str, mechanism: str, password: str):
    result = subprocess.run([rampart_binary(), "user", "add", name, "--mechanism", mechanism, "--config", str(config),
                             "--password-stdin"], input=password + "\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def stop_checked(broker, name):
    """A module broker fixture's teardown: the broker was still running and exits 0 on SIGTERM."""
    running = broker.is_running()
    code = broker.stop()
    assert running and code == 0, f"{name} exited with {code}:\n{broker.log_tail()}"


def consumed_values(config, topic, count, timeout=30.0):
    """The values a new group reads from the beginning of `topic`: up to `count`, within `timeout` seconds."""
    consumer = Consumer({**config, "group.id": f"g-{uuid.uuid4().hex[:6]}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    values = []
    try:
        deadline = time.monotonic() + timeout
        while len(values) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and not msg.error():
                values.append(msg.value().decode())
    finally:
        consumer.close()
    return values


def assert_never_consumed(config, topic, value, polls=10):
    """A new group polling `topic` from the beginning (`polls` times 0.3 s) never sees a record of `value`."""
    consumer = Consumer({**config, "group.id": f"g-{uuid.uuid4().hex[:6]}", "auto.offset.reset": "earliest"})
    try:
        consumer.subscribe([topic])
        for _ in range(polls):
            msg = consumer.poll(0.3)
            assert msg is None or msg.error() or msg.value() != value
    finally:
        consumer.close()


@pytest.fixture(scope="module")
def sasl_certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("sasl-certs")
    make_ca(d, "ca")
    issue(d, "ca", "broker", "/CN=localhost", san="DNS:localhost,IP:127.0.0.1")
    issue(d, "ca", "admin", "/CN=admin")
    keystore = d / "broker-keystore.pem"
    keystore.write_text((d / "broker.key").read_text() + (d / "broker.crt").read_text())
    os.chmod(keystore, 0o600)
    return d


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory, sasl_certs):
    workdir = tmp_path_factory.mktemp("sasl-broker")
    ssl_port = free_loopback_port()
    broker = BrokerProcess(workdir, extra_properties={
        "listeners": f"SASL_PLAINTEXT://127.0.0.1:{{port}},SASL_SSL://127.0.0.1:{ssl_port}",
        "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
        "listener.name.sasl_plaintext.sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
        "ssl.keystore.location": str(sasl_certs / "broker-keystore.pem"),
        "super.users": "User:alice",
        "rampart.log.level": "debug",
        # Tests here fail logins on purpose, all from 127.0.0.1: the backoff is tested on its own broker.
        "rampart.auth.failure.threshold": "0",
    })
    broker.ssl_port = ssl_port
    add_user(broker.config_path, "alice", "SCRAM-SHA-256", PASSWORDS["alice"])
    add_user(broker.config_path, "alice", "SCRAM-SHA-512", PASSWORDS["alice"])
    add_user(broker.config_path, "bob", "SCRAM-SHA-512", PASSWORDS["bob"])
    broker.start()
    yield broker
    stop_checked(broker, "SASL broker")


@pytest.fixture
def broker_up(sasl_broker):
    yield sasl_broker
    assert sasl_broker.is_running(), f"the broker died during the test:\n{sasl_broker.log_tail()}"


def client_config(broker, certs, protocol, mechanism, user="alice", password=None):
    config = {
        "bootstrap.servers": f"127.0.0.1:{broker.port if protocol == 'SASL_PLAINTEXT' else broker.ssl_port}",
        "security.protocol": protocol,
        "sasl.mechanisms": mechanism,
        "sasl.username": user,
        "sasl.password": PASSWORDS.get(user, "x") if password is None else password,
    }
    if protocol == "SASL_SSL":
        config["ssl.ca.location"] = str(certs / "ca.pem")
    return config


def produce_and_consume(config, topic, count=20):
    producer = Producer({**config, "acks": "all", "enable.idempotence": True})
    acked = []
    for i in range(count):
        producer.produce(topic, key=f"k{i}", value=f"v{i}", on_delivery=lambda err, msg: acked.append(err))
    producer.flush(30)
    assert len(acked) == count and not any(acked), acked[:3]
    assert sorted(consumed_values(config, topic, count)) == sorted(f"v{i}" for i in range(count))


@pytest.mark.parametrize("protocol,mechanism", [
    ("SASL_PLAINTEXT", "SCRAM-SHA-256"), ("SASL_PLAINTEXT", "SCRAM-SHA-512"),
    ("SASL_SSL", "SCRAM-SHA-256"), ("SASL_SSL", "SCRAM-SHA-512"), ("SASL_SSL", "PLAIN"),
])
def test_confluent_kafka_produces_and_consumes(broker_up, sasl_certs, protocol, mechanism):
    topic = f"sasl-{protocol}-{mechanism}-{uuid.uuid4().hex[:6]}".lower()
    produce_and_consume(client_config(broker_up, sasl_certs, protocol, mechanism), topic)


def authentication_errors(config, topic):
    """Errors a producer reports while trying to send one record to `topic`; the record's fate."""
    errors = []
    delivered = []
    producer = Producer({**config, "error_cb": lambda err: errors.append(err), "message.timeout.ms": 4000,
                         "reconnect.backoff.ms": 500})
    producer.produce(topic, value=b"must-not-arrive", on_delivery=lambda err, msg: delivered.append(err))
    producer.flush(8)
    return errors, delivered


@pytest.mark.parametrize("protocol,mechanism,user,password", [
    ("SASL_PLAINTEXT", "SCRAM-SHA-256", "alice", "wrong-password"),
    ("SASL_PLAINTEXT", "SCRAM-SHA-512", "mallory", "anything"),
    ("SASL_PLAINTEXT", "SCRAM-SHA-256", "bob", PASSWORDS["bob"]),  # bob has no SCRAM-SHA-256 credential
    ("SASL_SSL", "PLAIN", "alice", "wrong-password"),
    ("SASL_SSL", "PLAIN", "mallory", "anything"),
])
def test_bad_credentials_fail_at_the_client_and_nothing_is_produced(broker_up, sasl_certs, protocol, mechanism, user, password):
    topic = f"refused-{uuid.uuid4().hex[:8]}"
    config = client_config(broker_up, sasl_certs, protocol, mechanism, user=user, password=password)
    errors, delivered = authentication_errors(config, topic)
    assert any(e.code() == KafkaError._AUTHENTICATION for e in errors), [str(e) for e in errors]
    expected = ("Authentication failed: Invalid username or password" if mechanism == "PLAIN"
                else f"invalid credentials with SASL mechanism {mechanism}")
    assert any(expected in e.str() for e in errors), [e.str() for e in errors]
    assert delivered and delivered[0] is not None, "the record was delivered without authentication"
    # A good client sees no such topic content.
    assert_never_consumed(client_config(broker_up, sasl_certs, "SASL_SSL", "SCRAM-SHA-512"), topic, b"must-not-arrive")


def test_plain_is_not_offered_on_the_plaintext_listener(broker_up, sasl_certs):
    config = client_config(broker_up, sasl_certs, "SASL_PLAINTEXT", "PLAIN")
    errors, _ = authentication_errors(config, "never")
    assert any("SCRAM-SHA-256" in e.str() and "SCRAM-SHA-512" in e.str() for e in errors), [e.str() for e in errors]


@pytest.mark.parametrize("protocol,mechanism", [("SASL_PLAINTEXT", "SCRAM-SHA-256"), ("SASL_SSL", "SCRAM-SHA-512")])
def test_kafka_python_with_scram(broker_up, sasl_certs, protocol, mechanism):
    port = broker_up.port if protocol == "SASL_PLAINTEXT" else broker_up.ssl_port
    common = dict(bootstrap_servers=f"127.0.0.1:{port}", security_protocol=protocol, sasl_mechanism=mechanism,
                  sasl_plain_username="alice", sasl_plain_password=PASSWORDS["alice"])
    if protocol == "SASL_SSL":
        common["ssl_cafile"] = str(sasl_certs / "ca.pem")
    topic = f"kafka-python-{uuid.uuid4().hex[:8]}"
    producer = KafkaProducer(**common)
    for i in range(10):
        producer.send(topic, value=f"m{i}".encode())
    producer.flush(30)
    producer.close()
    consumer = KafkaConsumer(topic, auto_offset_reset="earliest", consumer_timeout_ms=10000, **common)
    values = sorted(m.value.decode() for m in consumer)
    consumer.close()
    assert values == sorted(f"m{i}" for i in range(10))


def test_kafka_python_wrong_password_is_refused(broker_up):
    from kafka.errors import KafkaError as PyKafkaError
    with pytest.raises(PyKafkaError):
        KafkaProducer(bootstrap_servers=f"127.0.0.1:{broker_up.port}", security_protocol="SASL_PLAINTEXT",
                      sasl_mechanism="SCRAM-SHA-512", sasl_plain_username="alice", sasl_plain_password="nope",
                      max_block_ms=5000)


def test_kcat_over_sasl_ssl_with_scram_sha_512(broker_up, sasl_certs):
    assert KCAT, "kcat is not installed"
    common = [KCAT, "-b", f"127.0.0.1:{broker_up.ssl_port}", "-X", "security.protocol=SASL_SSL",
              "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=bob", "-X", f"sasl.password={PASSWORDS['bob']}",
              "-X", f"ssl.ca.location={sasl_certs / 'ca.pem'}"]
    topic = f"kcat-sasl-{uuid.uuid4().hex[:6]}"
    subprocess.run(common + ["-P", "-t", topic], input=b"one\ntwo\n", check=True, timeout=30)
    out = subprocess.run(common + ["-C", "-t", topic, "-o", "beginning", "-e", "-q"], check=True, timeout=30,
                         capture_output=True).stdout
    assert sorted(out.split()) == [b"one", b"two"]


def raw_connection(broker):
    return kafkawire.connect("127.0.0.1", broker.port)


def test_a_request_before_authentication_closes_the_connection(broker_up):
    with raw_connection(broker_up) as sock:
        sock.sendall(kafkawire.metadata_request_v1(7))
        outcome, received = kafkawire.wait_for_close_or_response(sock, timeout=10)
        assert (outcome, received) == ("closed", b"")
    # ApiVersions is answered before authentication.
    assert kafkawire.API_VERSIONS in kafkawire.api_versions("127.0.0.1", broker_up.port)


def sasl_handshake(sock, mechanism, version=1, correlation_id=2):
    name = mechanism.encode()
    sock.sendall(kafkawire.frame(kafkawire.request_header_v1(17, version, correlation_id) + struct.pack(">h", len(name)) + name))
    _, body = kafkawire.read_response(sock)
    (error_code,) = struct.unpack(">h", body[:2])
    return error_code


def test_unknown_mechanism_lists_the_enabled_ones_then_closes(broker_up):
    with raw_connection(broker_up) as sock:
        sock.sendall(kafkawire.frame(kafkawire.request_header_v1(17, 1, 3) + struct.pack(">h", 6) + b"GSSAPI"))
        _, body = kafkawire.read_response(sock)
        error_code, count = struct.unpack(">hi", body[:6])
        names, offset = [], 6
        for _ in range(count):
            (length,) = struct.unpack(">h", body[offset:offset + 2])
            names.append(body[offset + 2:offset + 2 + length].decode())
            offset += 2 + length
        assert (error_code, names) == (33, ["SCRAM-SHA-256", "SCRAM-SHA-512"])
        assert kafkawire.wait_for_close_or_response(sock, timeout=10)[0] == "closed"


def test_failed_authentication_is_answered_after_the_delay(broker_up):
    """SaslHandshake v0 then a raw SCRAM token that cannot succeed: closed after the 100 ms delay."""
    with raw_connection(broker_up) as sock:
        assert sasl_handshake(sock, "SCRAM-SHA-256", version=0) == 0
        started = time.monotonic()
        sock.sendall(kafkawire.frame(b"n,,n=alice,r=garbage\x00\x01"))
        outcome, _ = kafkawire.wait_for_close_or_response(sock, timeout=10)
        assert outcome == "closed"
        assert time.monotonic() - started >= 0.09


def test_an_oversized_token_before_authentication_closes(broker_up):
    with raw_connection(broker_up) as sock:
        assert sasl_handshake(sock, "SCRAM-SHA-256", version=0) == 0
        sock.sendall(struct.pack(">i", 10 * 1024 * 1024) + b"n,,n=" + b"A" * 65536)
        assert kafkawire.wait_for_close_or_response(sock, timeout=10)[0] == "closed"


def test_no_password_in_the_data_directory_or_the_log(broker_up):
    for path in list(broker_up.data_dir.rglob("*")) + [broker_up.log_path, broker_up.config_path]:
        if path.is_file():
            data = path.read_bytes()
            for password in PASSWORDS.values():
                assert password.encode() not in data, f"{password!r} found in {path}"
    metadata = (broker_up.data_dir / "__rampart_metadata.json")
    assert metadata.stat().st_mode & 0o777 == 0o600


def test_users_cannot_be_added_while_the_broker_runs(broker_up):
    result = subprocess.run([rampart_binary(), "user", "add", "carol", "--mechanism", "SCRAM-SHA-256", "--config",
                             str(broker_up.config_path), "--password-stdin"], input="pw\n", capture_output=True,
                            text=True, timeout=60)
    assert result.returncode != 0 and "in use by another Rampart process" in result.stderr


def test_plain_without_tls_stops_start_up(tmp_path):
    config = tmp_path / "server.properties"
    config.write_text(f"listeners=SASL_PLAINTEXT://127.0.0.1:{free_loopback_port()}\nrampart.insecure.allow.plaintext=true\n"
                      f"log.dirs={tmp_path / 'data'}\nsasl.enabled.mechanisms=PLAIN\n")
    result = subprocess.run([rampart_binary(), "serve", "--config", str(config)], capture_output=True, timeout=30)
    assert result.returncode != 0
    assert b"listener SASL_PLAINTEXT: PLAIN on SASL_PLAINTEXT" in result.stderr


def test_cyrus_provider_serves_rfc_clients(tmp_path):
    """rampart.sasl.scram.provider=cyrus: Cyrus libsasl2 with Rampart's credential plugin serves kafka-python
    and confluent-kafka (RFC 5802 nonces); Debian's librdkafka 2.0.2 (kcat), which repeats its client nonce in
    client-final, is refused — why `builtin` is the default."""
    broker = BrokerProcess(tmp_path / "broker", extra_properties={
        "listeners": "SASL_PLAINTEXT://127.0.0.1:{port}", "rampart.sasl.scram.provider": "cyrus",
    })
    add_user(broker.config_path, "alice", "SCRAM-SHA-512", PASSWORDS["alice"])
    broker.start()
    try:
        common = dict(bootstrap_servers=broker.bootstrap, security_protocol="SASL_PLAINTEXT", sasl_mechanism="SCRAM-SHA-512",
                      sasl_plain_username="alice", sasl_plain_password=PASSWORDS["alice"])
        producer = KafkaProducer(**common)
        producer.send("cyrus-topic", value=b"via-cyrus").get(timeout=30)
        producer.close()
        produce_and_consume({"bootstrap.servers": broker.bootstrap, "security.protocol": "SASL_PLAINTEXT",
                             "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "alice",
                             "sasl.password": PASSWORDS["alice"]}, "cyrus-confluent", count=5)
        assert KCAT, "kcat is not installed"
        refused = subprocess.run([KCAT, "-b", broker.bootstrap, "-X", "security.protocol=SASL_PLAINTEXT", "-X",
                                  "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=alice", "-X",
                                  f"sasl.password={PASSWORDS['alice']}", "-L", "-m", "5"], capture_output=True, timeout=30)
        assert refused.returncode != 0 and b"invalid credentials" in refused.stderr
        assert broker.is_running()
    finally:
        assert broker.stop() == 0


def can_log_in(config) -> bool:
    errors, delivered = [], []
    producer = Producer({**config, "error_cb": lambda err: errors.append(err), "message.timeout.ms": 5000})
    producer.produce("login-probe", value=b"x", on_delivery=lambda err, msg: delivered.append(err))
    producer.flush(8)
    return bool(delivered) and delivered[0] is None and not any(e.code() == KafkaError._AUTHENTICATION for e in errors)


def test_online_user_management_with_confluent_kafka_admin(broker_up, sasl_certs):
    """AlterUserScramCredentials/DescribeUserScramCredentials through confluent-kafka's AdminClient: a super
    user adds, re-keys and deletes a user over SASL_SSL; the changes apply to the next connections."""
    admin = AdminClient(client_config(broker_up, sasl_certs, "SASL_SSL", "SCRAM-SHA-512"))
    sha256 = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096)
    carol = lambda password: client_config(broker_up, sasl_certs, "SASL_SSL", "SCRAM-SHA-256", user="carol", password=password)

    for future in admin.alter_user_scram_credentials([UserScramCredentialUpsertion("carol", sha256, b"carol-First-1")]).values():
        future.result(timeout=30)
    assert can_log_in(carol("carol-First-1"))
    described = admin.describe_user_scram_credentials().result(timeout=30)
    assert sorted(described) == ["alice", "bob", "carol"]
    assert [(i.mechanism, i.iterations) for i in described["carol"].scram_credential_infos] == [(ScramMechanism.SCRAM_SHA_256, 4096)]
    missing = admin.describe_user_scram_credentials(["nobody"])["nobody"]
    with pytest.raises(KafkaException) as error:
        missing.result(timeout=30)
    assert error.value.args[0].code() == KafkaError.RESOURCE_NOT_FOUND

    # A new password: the old one no longer logs in.
    for future in admin.alter_user_scram_credentials([UserScramCredentialUpsertion("carol", sha256, b"carol-Second-2")]).values():
        future.result(timeout=30)
    assert not can_log_in(carol("carol-First-1"))
    assert can_log_in(carol("carol-Second-2"))

    # Deleted: refused.
    for future in admin.alter_user_scram_credentials([UserScramCredentialDeletion("carol", ScramMechanism.SCRAM_SHA_256)]).values():
        future.result(timeout=30)
    assert not can_log_in(carol("carol-Second-2"))

    # Not a super user, or not over TLS: refused.
    for config in (client_config(broker_up, sasl_certs, "SASL_SSL", "SCRAM-SHA-512", user="bob"),
                   client_config(broker_up, sasl_certs, "SASL_PLAINTEXT", "SCRAM-SHA-512")):
        other = AdminClient(config)
        futures = other.alter_user_scram_credentials([UserScramCredentialUpsertion("mallory", sha256, b"pw-Mallory-3")])
        with pytest.raises(KafkaException) as error:
            futures["mallory"].result(timeout=30)
        assert error.value.args[0].code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED
    assert "mallory" not in admin.describe_user_scram_credentials().result(timeout=30)

    for path in list(broker_up.data_dir.rglob("*")) + [broker_up.log_path]:
        if path.is_file():
            data = path.read_bytes()
            for password in (b"carol-First-1", b"carol-Second-2", b"pw-Mallory-3"):
                assert password not in data, f"{password!r} found in {path}"


def test_rampart_user_online_over_mtls(tmp_path, sasl_certs):
    """`rampart user … --bootstrap-server --command-config`: the CLI (principal User:CN=admin from its client
    certificate, a super user) manages users of a running broker; the new user logs in over SASL_SSL."""
    sasl_port = free_loopback_port()
    broker = BrokerProcess(tmp_path / "broker", tls_ca=sasl_certs / "ca.pem",
                           tls_client=(sasl_certs / "admin.crt", sasl_certs / "admin.key"), extra_properties={
        "listeners": f"SSL://127.0.0.1:{{port}},SASL_SSL://127.0.0.1:{sasl_port}",
        "ssl.keystore.location": str(sasl_certs / "broker-keystore.pem"),
        "listener.name.ssl.ssl.truststore.location": str(sasl_certs / "ca.pem"),
        "listener.name.ssl.ssl.client.auth": "required",
        "super.users": "User:CN=admin",
    })
    client_properties = tmp_path / "admin.properties"
    client_properties.write_text(f"security.protocol=SSL\nssl.ca.location={sasl_certs / 'ca.pem'}\n"
                                 f"ssl.certificate.location={sasl_certs / 'admin.crt'}\nssl.key.location={sasl_certs / 'admin.key'}\n")
    broker.start()

    def user(*args, password=None):
        return subprocess.run([rampart_binary(), "user", *args, "--bootstrap-server", broker.bootstrap,
                               "--command-config", str(client_properties)], input=password, capture_output=True,
                              text=True, timeout=60)

    try:
        added = user("add", "dave", "--mechanism", "SCRAM-SHA-512", "--iterations", "8192", "--password-stdin",
                     password="dave-Online-5\n")
        assert added.returncode == 0, added.stderr
        again = user("add", "dave", "--mechanism", "SCRAM-SHA-512", "--password-stdin", password="x\n")
        assert again.returncode != 0 and "already has a SCRAM-SHA-512 credential" in again.stderr
        described = user("describe", "dave")
        assert described.returncode == 0 and "SCRAM-SHA-512  8192" in described.stdout, described.stdout + described.stderr
        dave = {"bootstrap.servers": f"127.0.0.1:{sasl_port}", "security.protocol": "SASL_SSL",
                "ssl.ca.location": str(sasl_certs / "ca.pem"), "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "dave"}
        assert can_log_in({**dave, "sasl.password": "dave-Online-5"})
        assert user("update", "dave", "--mechanism", "SCRAM-SHA-512", "--password-stdin", password="dave-Online-6\n").returncode == 0
        assert not can_log_in({**dave, "sasl.password": "dave-Online-5"})
        assert can_log_in({**dave, "sasl.password": "dave-Online-6"})
        listed = user("list")
        assert listed.returncode == 0 and "dave" in listed.stdout
        assert user("delete", "dave").returncode == 0
        assert not can_log_in({**dave, "sasl.password": "dave-Online-6"})
        missing = user("describe", "dave")
        assert missing.returncode != 0 and "RESOURCE_NOT_FOUND" in missing.stderr.upper().replace(" ", "_"), missing.stderr
    finally:
        assert broker.stop() == 0


def rampart_cli(*args, bootstrap, config, stdin=None, timeout=60):
    return subprocess.run([rampart_binary(), *args, "--bootstrap-server", bootstrap, "--command-config", str(config)],
                          input=stdin, capture_output=True, text=True, timeout=timeout)


def cli_ok(result):
    assert result.returncode == 0, f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    return result.stdout


@pytest.mark.parametrize("style", ["librdkafka", "java"])
def test_rampart_commands_over_sasl_ssl_with_scram_sha_512(broker_up, sasl_certs, tmp_path, style):
    """`rampart topic/produce/consume/group` with --command-config over SASL_SSL + SCRAM-SHA-512, credentials in
    librdkafka's keys or in Java's sasl.jaas.config; confluent-kafka reads what the CLI wrote."""
    if style == "librdkafka":
        sasl = f"sasl.mechanisms=SCRAM-SHA-512\nsasl.username=bob\nsasl.password={PASSWORDS['bob']}\n"
    else:
        sasl = ("sasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule "
                f"required username=\"bob\" password=\"{PASSWORDS['bob']}\";\n")
    config = tmp_path / "sasl.properties"
    config.write_text(f"security.protocol=SASL_SSL\nssl.ca.location={sasl_certs / 'ca.pem'}\n{sasl}")
    bootstrap = f"127.0.0.1:{broker_up.ssl_port}"
    run = lambda *args, **kw: cli_ok(rampart_cli(*args, bootstrap=bootstrap, config=config, **kw))  # noqa: E731
    topic = f"cli-sasl-{style}-{uuid.uuid4().hex[:6]}"

    assert f"Created topic {topic}." in run("topic", "create", "--topic", topic, "--partitions", "2")
    assert topic in run("topic", "list").split()
    assert "PartitionCount: 2" in run("topic", "describe", "--topic", topic)
    lines = [f"k{i}:v{i}" for i in range(20)]
    run("produce", "--topic", topic, "--property", "parse.key=true", "--property", "key.separator=:",
        stdin="\n".join(lines) + "\n")
    out = run("consume", "--topic", topic, "--group", f"{topic}-readers", "--from-beginning", "--max-messages", "20",
              "--property", "print.key=true")
    assert sorted(out.splitlines()) == sorted(line.replace(":", "\t") for line in lines)
    assert f"{topic}-readers" in run("group", "list").split()

    values = consumed_values(client_config(broker_up, sasl_certs, "SASL_SSL", "SCRAM-SHA-512"), topic, 20)
    assert sorted(values) == sorted(f"v{i}" for i in range(20))


def test_rampart_commands_report_a_failed_login(broker_up, sasl_certs, tmp_path):
    config = tmp_path / "wrong.properties"
    config.write_text(f"security.protocol=SASL_SSL\nssl.ca.location={sasl_certs / 'ca.pem'}\nsasl.mechanism=SCRAM-SHA-512\n"
                      "sasl.username=bob\nsasl.password=not-Bobs-Password-4\n")
    result = rampart_cli("topic", "list", bootstrap=f"127.0.0.1:{broker_up.ssl_port}", config=config)
    assert result.returncode == 1
    assert result.stderr.startswith("rampart: SASL authentication with 127.0.0.1:"), result.stderr
    assert ("SASL_AUTHENTICATION_FAILED: Authentication failed during authentication due to invalid credentials with SASL "
            "mechanism SCRAM-SHA-512") in result.stderr, result.stderr
    assert "not-Bobs-Password-4" not in result.stderr + result.stdout
    # A mechanism the listener does not offer: named, with the offer.
    config.write_text(f"security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\nsasl.username=bob\nsasl.password=x\n")
    result = rampart_cli("topic", "list", bootstrap=broker_up.bootstrap, config=config)
    assert result.returncode == 1 and "does not accept SASL mechanism PLAIN (it offers SCRAM-SHA-256, SCRAM-SHA-512)" in result.stderr


def test_rampart_user_online_over_sasl_ssl(broker_up, sasl_certs, tmp_path):
    """A super user (alice) manages users with `rampart user … --command-config` over SASL_SSL."""
    config = tmp_path / "alice.properties"
    config.write_text(f"security.protocol=SASL_SSL\nssl.ca.location={sasl_certs / 'ca.pem'}\nsasl.mechanism=SCRAM-SHA-256\n"
                      f"sasl.username=alice\nsasl.password={PASSWORDS['alice']}\n")
    bootstrap = f"127.0.0.1:{broker_up.ssl_port}"
    name = f"erin{uuid.uuid4().hex[:4]}"
    cli_ok(rampart_cli("user", "add", name, "--mechanism", "SCRAM-SHA-512", "--password-stdin", bootstrap=bootstrap,
                       config=config, stdin="erin-Online-7\n"))
    erin = client_config(broker_up, sasl_certs, "SASL_SSL", "SCRAM-SHA-512", user=name, password="erin-Online-7")
    assert can_log_in(erin)
    cli_ok(rampart_cli("user", "delete", name, bootstrap=bootstrap, config=config))
    assert not can_log_in(erin)


def test_repeated_failures_from_one_address_start_a_backoff(tmp_path):
    """rampart.auth.failure.*: after 3 failed logins from 127.0.0.1 within the window, every attempt from it is
    refused — even with the right password — with Rampart's backoff message, until the backoff ends."""
    broker = BrokerProcess(tmp_path / "broker", extra_properties={
        "listeners": "SASL_PLAINTEXT://127.0.0.1:{port}", "rampart.auth.failure.threshold": "3",
        "rampart.auth.failure.window.ms": "60000", "rampart.auth.failure.backoff.ms": "9000",
        "connection.failed.authentication.delay.ms": "10",
    })
    add_user(broker.config_path, "alice", "SCRAM-SHA-512", PASSWORDS["alice"])
    broker.start()
    try:
        good = {"bootstrap.servers": broker.bootstrap, "security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-512",
                "sasl.username": "alice", "sasl.password": PASSWORDS["alice"]}
        assert can_log_in(good)
        for _ in range(3):
            errors, _ = authentication_errors({**good, "sasl.password": "wrong-Password-9"}, "never")
            assert any(e.code() == KafkaError._AUTHENTICATION for e in errors)
            if "too many failed authentication attempts" in " ".join(e.str() for e in errors):
                break
        errors, delivered = authentication_errors(good, "during-backoff")
        assert any("too many failed authentication attempts from this address; retry later" in e.str() for e in errors), \
            [e.str() for e in errors]
        assert delivered and delivered[0] is not None
        log = broker.log_path.read_text()
        assert "too many failed authentications from this address" in log
        # The backoff ends 9 s after the third failure, which came before the refusals above.
        deadline = time.monotonic() + 12
        while not can_log_in(good):
            assert time.monotonic() < deadline, "the backoff did not end"
    finally:
        assert broker.stop() == 0
