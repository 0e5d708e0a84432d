"""`rampart cert`: the CA, certificates and CRL it makes serve a broker's mTLS listener for unmodified clients.

Everything is created per test session in a temporary directory, never committed.
"""
import os
import stat
import subprocess

import pytest
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from conftest import DEFAULT_BINARY, BrokerProcess
from test_tls import produce_and_consume


def rampart_cert(*args, stdin=None):
    binary = os.environ.get("RAMPART_BIN", str(DEFAULT_BINARY))
    return subprocess.run([binary, "cert", *args], capture_output=True, text=True, input=stdin, timeout=60)


def make(directory, *commands):
    for args, stdin in commands:
        result = rampart_cert(*args, "--dir", str(directory), stdin=stdin)
        assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    base = tmp_path_factory.mktemp("rampart-cert")
    make(base / "certs",
         (["ca", "--cn", "Interop CA"], None),
         (["issue", "--cn", "broker", "--san", "localhost", "--san", "127.0.0.1", "--server", "--client"], None),
         (["issue", "--cn", "alice", "--ou", "eng", "--o", "Example", "--client"], None),
         (["issue", "--cn", "broker-enc", "--san", "127.0.0.1", "--server", "--key-password-stdin"], "k3y-pass\n"))
    make(base / "other", (["ca", "--cn", "Other CA"], None), (["issue", "--cn", "mallory", "--client"], None))
    return base


def mtls_broker(tmp_path, certs, keystore="broker.pem", extra=None):
    broker = BrokerProcess(tmp_path / "broker", tls_ca=certs / "ca.crt",
                           tls_client=(certs / "alice.crt", certs / "alice.key"), extra_properties={
        "listeners": "SSL://127.0.0.1:{port}",
        "ssl.keystore.location": str(certs / keystore),
        "ssl.truststore.location": str(certs / "ca.crt"),
        "ssl.client.auth": "required",
        **(extra or {}),
    })
    broker.start()
    return broker


def config(broker, ca, certificate=None, key=None):
    result = {
        "bootstrap.servers": f"{broker.host}:{broker.port}",
        "security.protocol": "SSL",
        "ssl.ca.location": str(ca),
        "ssl.endpoint.identification.algorithm": "https",
    }
    if certificate:
        result.update({"ssl.certificate.location": str(certificate), "ssl.key.location": str(key)})
    return result


def test_issued_files_have_safe_modes(pki):
    certs = pki / "certs"
    for name in ("ca.key", "broker.key", "broker.pem", "alice.key", "alice.pem"):
        assert stat.S_IMODE(os.stat(certs / name).st_mode) == 0o600, name
    assert stat.S_IMODE(os.stat(certs / "alice.crt").st_mode) == 0o644
    assert (certs / "broker-enc.key").read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")


def test_confluent_kafka_and_kcat_with_rampart_cert_certificates(tmp_path, pki):
    certs = pki / "certs"
    broker = mtls_broker(tmp_path, certs)
    try:
        alice = config(broker, certs / "ca.crt", certs / "alice.crt", certs / "alice.key")
        produce_and_consume(alice, "cert-tool-topic", count=10)
        kcat = ["kcat", "-b", f"{broker.host}:{broker.port}", "-X", "security.protocol=ssl",
                "-X", f"ssl.ca.location={certs / 'ca.crt'}", "-X", f"ssl.certificate.location={certs / 'alice.crt'}",
                "-X", f"ssl.key.location={certs / 'alice.key'}"]
        subprocess.run(kcat + ["-P", "-t", "cert-tool-kcat"], input=b"one\ntwo\n", check=True, timeout=30)
        out = subprocess.run(kcat + ["-C", "-t", "cert-tool-kcat", "-o", "beginning", "-e", "-q"],
                             check=True, timeout=30, capture_output=True).stdout
        assert sorted(out.split()) == [b"one", b"two"]
        # A certificate from another `rampart cert` CA is refused.
        other = pki / "other"
        admin = AdminClient({**config(broker, certs / "ca.crt", other / "mallory.crt", other / "mallory.key"),
                             "socket.timeout.ms": 3000})
        with pytest.raises(KafkaException):
            admin.list_topics(timeout=4)
        assert broker.is_running()
    finally:
        assert broker.stop() == 0


def test_encrypted_keystore_with_ssl_key_password(tmp_path, pki):
    certs = pki / "certs"
    broker = mtls_broker(tmp_path, certs, keystore="broker-enc.pem", extra={"ssl.key.password": "k3y-pass"})
    try:
        produce_and_consume(config(broker, certs / "ca.crt", certs / "alice.crt", certs / "alice.key"),
                            "cert-tool-encrypted", count=5)
    finally:
        assert broker.stop() == 0


def test_certificate_revoked_with_rampart_cert_is_refused(tmp_path, pki):
    certs = tmp_path / "certs"  # a CA of its own: the revocation must not touch the module's
    make(certs,
         (["ca"], None),
         (["issue", "--cn", "broker", "--san", "127.0.0.1", "--server"], None),
         (["issue", "--cn", "alice", "--client"], None),
         (["issue", "--cn", "bob", "--client"], None),
         (["revoke", "--name", "bob", "--reason", "keyCompromise"], None))
    broker = mtls_broker(tmp_path, certs, extra={"rampart.ssl.crl.location": str(certs / "crl.pem")})
    try:
        produce_and_consume(config(broker, certs / "ca.crt", certs / "alice.crt", certs / "alice.key"),
                            "cert-tool-crl", count=5)
        admin = AdminClient({**config(broker, certs / "ca.crt", certs / "bob.crt", certs / "bob.key"),
                             "socket.timeout.ms": 3000})
        with pytest.raises(KafkaException):
            admin.list_topics(timeout=4)
        assert "certificate revoked" in broker.log_path.read_text()
        assert broker.is_running()
    finally:
        assert broker.stop() == 0
