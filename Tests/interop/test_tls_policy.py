"""TLS policy on SSL listeners: principal mapping rules, expired and revoked client certificates, old
protocol versions, clients that stall in the handshake, and certificate rotation without restart.

Certificates are made per module with the openssl command (EC P-256), never committed.
"""
import os
import signal
import socket
import ssl
import threading
import time
import uuid

import pytest
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient

from conftest import BrokerProcess
from pki import issue, keystore, make_ca, openssl
from test_tls import client_config, produce_and_consume

CA_CONFIG = """[ca]
default_ca = testca
[testca]
database = index.txt
certificate = ca.pem
private_key = ca.key
default_md = sha256
default_crl_days = 2
crlnumber = crlnumber
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    make_ca(d, "ca")
    issue(d, "ca", "broker", "/CN=localhost", san="DNS:localhost,IP:127.0.0.1")
    issue(d, "ca", "broker2", "/CN=localhost/O=rotated", san="DNS:localhost,IP:127.0.0.1")
    issue(d, "ca", "alice", "/O=Example/OU=eng/CN=alice")
    issue(d, "ca", "bob", "/O=Example/OU=ops/CN=bob")
    issue(d, "ca", "revoked", "/CN=revoked")
    # Expired yesterday (valid from now until a day ago: every check fails).
    issue(d, "ca", "old", "/CN=old", days="-1")
    (d / "ca.cnf").write_text(CA_CONFIG)
    (d / "index.txt").write_text("")
    (d / "crlnumber").write_text("01\n")
    openssl("ca", "-config", "ca.cnf", "-revoke", "revoked.crt", cwd=d)
    openssl("ca", "-config", "ca.cnf", "-gencrl", "-out", "crl.pem", cwd=d)
    return d


def start_broker(tmp_path, pki, **properties):
    props = {
        "listeners": "SSL://127.0.0.1:{port}",
        "ssl.keystore.location": str(pki / "broker-keystore.pem"),
        "ssl.truststore.location": str(pki / "ca.pem"),
        "ssl.client.auth": "required",
        "rampart.log.level": "debug",
    }
    props.update(properties)
    broker = BrokerProcess(tmp_path / "broker", tls_ca=pki / "ca.pem",
                           tls_client=(pki / "alice.crt", pki / "alice.key"), extra_properties=props)
    broker.start()
    return broker


def refused(broker, pki, client):
    admin = AdminClient({**client_config(broker, pki, client=client), "socket.timeout.ms": 3000})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=4)


def served_certificate(broker, pki):
    """The DER certificate a new TLS connection to the broker is given."""
    context = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    context.load_cert_chain(str(pki / "alice.crt"), str(pki / "alice.key"))
    with socket.create_connection((broker.host, broker.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


def der(path):
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def test_mapping_rules_turn_the_dn_into_the_principal(tmp_path, pki):
    # Only the rule for OU=eng, no DEFAULT: alice maps to User:alice, bob (same CA) maps to nothing.
    broker = start_broker(tmp_path, pki, **{"ssl.principal.mapping.rules": "RULE:^CN=([^,]+),OU=eng,O=Example$/$1/L"})
    try:
        produce_and_consume(client_config(broker, pki, client="alice"), "mapped", count=5)
        log = broker.log_path.read_text()
        # Text log values that hold '=' or ',' are quoted.
        assert 'subject="CN=alice,OU=eng,O=Example"' in log and "principal=User:alice" in log, broker.log_tail()
        refused(broker, pki, "bob")
        assert "no ssl.principal.mapping.rules rule applies" in broker.log_path.read_text()
        assert broker.is_running()
    finally:
        assert broker.stop() == 0


def test_invalid_mapping_rules_stop_start_up(tmp_path, pki):
    broker = BrokerProcess(tmp_path / "bad", extra_properties={
        "listeners": "SSL://127.0.0.1:{port}",
        "ssl.keystore.location": str(pki / "broker-keystore.pem"),
        "ssl.principal.mapping.rules": "RULE:^CN=(.*)$/$1",
    })
    with pytest.raises(RuntimeError, match="ssl.principal.mapping.rules"):
        broker.start(timeout=20)


def test_expired_and_revoked_client_certificates_are_refused(tmp_path, pki):
    broker = start_broker(tmp_path, pki, **{"rampart.ssl.crl.location": str(pki / "crl.pem")})
    try:
        refused(broker, pki, "old")
        refused(broker, pki, "revoked")
        log = broker.log_path.read_text()
        assert "certificate has expired" in log and "certificate revoked" in log, broker.log_tail()
        produce_and_consume(client_config(broker, pki, client="alice"), "after-refusals", count=5)
    finally:
        assert broker.stop() == 0


def test_tls_1_1_only_client_is_refused(tmp_path, pki):
    broker = start_broker(tmp_path, pki, **{"ssl.client.auth": "none"})
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(str(pki / "ca.pem"))
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
        with socket.create_connection((broker.host, broker.port), timeout=5) as raw:
            with pytest.raises(ssl.SSLError) as refusal:
                context.wrap_socket(raw, server_hostname="localhost")
        # The server's protocol_version alert, not a local refusal to offer TLS 1.1.
        assert "PROTOCOL_VERSION" in str(refusal.value).upper() and "NO_PROTOCOLS_AVAILABLE" not in str(refusal.value).upper(), refusal.value
        # A TLS 1.2 client is served.
        modern = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        modern.maximum_version = ssl.TLSVersion.TLSv1_2
        with socket.create_connection((broker.host, broker.port), timeout=5) as raw:
            with modern.wrap_socket(raw, server_hostname="localhost") as tls:
                assert tls.version() == "TLSv1.2"
    finally:
        assert broker.stop() == 0


def client_hello() -> bytes:
    """The first flight of a real TLS client, produced in memory."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def closed_within(sock, seconds):
    """Seconds until the broker closed the connection (EOF or reset), or None if it did not."""
    start = time.monotonic()
    sock.settimeout(seconds)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return time.monotonic() - start
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic() - start
    except socket.timeout:
        return None


def test_stalled_handshakes_and_random_bytes_are_closed_within_the_timeout(tmp_path, pki):
    broker = start_broker(tmp_path, pki, **{"rampart.ssl.handshake.timeout.ms": "1500", "ssl.client.auth": "none"})
    try:
        hello = client_hello()
        stalled = []
        # Half a ClientHello; a whole ClientHello and then silence; nothing at all.
        for first_bytes in (hello[: len(hello) // 2], hello, b""):
            sock = socket.create_connection((broker.host, broker.port), timeout=5)
            sock.sendall(first_bytes)
            stalled.append(sock)
        for sock in stalled:
            elapsed = closed_within(sock, 8)
            assert elapsed is not None and elapsed < 6, "a stalled handshake was not closed"
            sock.close()
        with socket.create_connection((broker.host, broker.port), timeout=5) as sock:
            sock.sendall(os.urandom(4096))
            assert closed_within(sock, 8) is not None
        produce_and_consume(client_config(broker, pki), "after-stalls", count=5)
        assert broker.is_running()
    finally:
        assert broker.stop() == 0


class BackgroundConsumer:
    """Consumes a topic on a thread for as long as the test runs, recording what it got."""

    def __init__(self, config, topic):
        self.consumer = Consumer({**config, "group.id": f"rot-{uuid.uuid4().hex[:6]}", "auto.offset.reset": "earliest"})
        self.consumer.subscribe([topic])
        self.values = []
        self.errors = []
        self.running = True
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while self.running:
            msg = self.consumer.poll(0.1)
            if msg is None:
                continue
            if msg.error():
                self.errors.append(msg.error())
            else:
                self.values.append(msg.value().decode())

    def wait_for(self, count, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.values) < count:
            time.sleep(0.05)
        return len(self.values) >= count

    def close(self):
        self.running = False
        self.thread.join(10)
        self.consumer.close()


def produce(config, topic, values):
    producer = Producer({**config, "acks": "all"})
    for value in values:
        producer.produce(topic, value=value)
    assert producer.flush(30) == 0


def wait_until(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def install(work, pki, key, certificate):
    """Makes `work/broker-keystore.pem` from pki's `key`.key and `certificate`.crt (atomically)."""
    (work / "broker.key").write_text((pki / f"{key}.key").read_text())
    (work / "broker.crt").write_text((pki / f"{certificate}.crt").read_text())
    return keystore(work, "broker")


def test_certificate_rotation_without_restart(tmp_path, pki):
    work = tmp_path / "rotation"
    work.mkdir()
    live = install(work, pki, "broker", "broker")
    broker = start_broker(tmp_path, pki, **{"ssl.keystore.location": str(live), "rampart.ssl.reload.interval.ms": "200"})
    config = client_config(broker, pki, client="alice")
    consumer = BackgroundConsumer(config, "rotating")
    try:
        produce(config, "rotating", ["before-1", "before-2"])
        assert consumer.wait_for(2)
        assert served_certificate(broker, pki) == der(pki / "broker.crt")

        # Replace the keystore atomically with the new certificate: new connections get it, the
        # connected consumer goes on.
        install(work, pki, "broker2", "broker2")
        assert wait_until(lambda: served_certificate(broker, pki) == der(pki / "broker2.crt")), broker.log_tail()
        produce(config, "rotating", ["after-1", "after-2"])
        assert consumer.wait_for(4), consumer.values
        assert "TLS files reloaded" in broker.log_path.read_text()

        # A broken replacement (key of another certificate) is refused; the current one stays.
        install(work, pki, "broker", "broker2")
        assert wait_until(lambda: "new TLS files refused" in broker.log_path.read_text()), broker.log_tail()
        assert served_certificate(broker, pki) == der(pki / "broker2.crt")
        produce(config, "rotating", ["after-bad"])
        assert consumer.wait_for(5), consumer.values
        assert sorted(consumer.values) == sorted(["before-1", "before-2", "after-1", "after-2", "after-bad"])
        assert broker.is_running()
    finally:
        consumer.close()
        assert broker.stop() == 0


def test_sighup_reloads_the_certificate(tmp_path, pki):
    work = tmp_path / "sighup"
    work.mkdir()
    live = install(work, pki, "broker", "broker")
    # No polling: only SIGHUP reloads.
    broker = start_broker(tmp_path, pki, **{"ssl.keystore.location": str(live), "rampart.ssl.reload.interval.ms": "0"})
    try:
        install(work, pki, "broker2", "broker2")
        time.sleep(0.5)
        assert served_certificate(broker, pki) == der(pki / "broker.crt")
        broker.process.send_signal(signal.SIGHUP)
        assert wait_until(lambda: served_certificate(broker, pki) == der(pki / "broker2.crt")), broker.log_tail()
        log = broker.log_path.read_text()
        assert "received SIGHUP" in log and "TLS certificate expires in 1 day" in log
    finally:
        assert broker.stop() == 0


def test_requested_client_auth_on_an_ssl_listener_needs_the_insecure_override(tmp_path, pki):
    broker = BrokerProcess(tmp_path / "requested", extra_properties={
        "listeners": "SSL://127.0.0.1:{port}",
        "ssl.keystore.location": str(pki / "broker-keystore.pem"),
        "ssl.truststore.location": str(pki / "ca.pem"),
        "ssl.client.auth": "requested",
    })
    with pytest.raises(RuntimeError, match="rampart.insecure.allow.ssl.client.auth.requested"):
        broker.start(timeout=20)
    allowed = start_broker(tmp_path / "allowed", pki, **{
        "ssl.client.auth": "requested", "rampart.insecure.allow.ssl.client.auth.requested": "true"})
    try:
        assert "are NOT authenticated" in allowed.log_path.read_text()
    finally:
        assert allowed.stop() == 0


def test_a_symlinked_keystore_is_checked_through_the_link(tmp_path, pki):
    # certbot's live/ and mounted secrets are symbolic links: the key file's own mode (0600) counts.
    link = tmp_path / "keystore-link.pem"
    link.symlink_to(pki / "broker-keystore.pem")
    broker = start_broker(tmp_path, pki, **{"ssl.keystore.location": str(link)})
    try:
        assert served_certificate(broker, pki) == der(pki / "broker.crt")
    finally:
        assert broker.stop() == 0
