"""GSSAPI (Kerberos) through Cyrus with kcat (Debian's librdkafka 2.0.2, built with Cyrus GSSAPI): an MIT KDC
started on loopback for the module (minikdc.py), the broker's key in a keytab (`rampart.sasl.kerberos.keytab`),
clients logging in from their own keytabs (`sasl.kerberos.keytab` + `sasl.kerberos.principal`, librdkafka
runs kinit), principals mapped by `sasl.kerberos.principal.to.local.rules` (Kafka's syntax).
"""
import os
import re
import shutil
import subprocess
import uuid

import pytest

import minikdc
from conftest import BrokerProcess
from test_sasl import stop_checked

KCAT = shutil.which("kcat")
pytestmark = pytest.mark.skipif(not minikdc.available() or not KCAT,
                                reason="needs krb5-kdc, krb5-admin-server, krb5-user and kcat (scripts/install-deps.sh)")


@pytest.fixture(scope="module")
def kdc(tmp_path_factory):
    kdc = minikdc.MiniKDC(tmp_path_factory.mktemp("kdc")).start()
    kdc.broker_keytab = kdc.add_principal("kafka/localhost")
    kdc.alice_keytab = kdc.add_principal("alice")
    kdc.ops_keytab = kdc.add_principal("ops/batch")
    kdc.mallory_keytab = kdc.add_principal("mallory/evil")
    yield kdc
    kdc.stop()


@pytest.fixture(scope="module")
def gssapi_broker(tmp_path_factory, kdc):
    broker = BrokerProcess(tmp_path_factory.mktemp("gssapi-broker"), env=kdc.env, extra_properties={
        "listeners": "SASL_PLAINTEXT://127.0.0.1:{port}",
        # GSSAPI names the broker by host: clients must reach it as "localhost", its principal's host.
        "advertised.listeners": "SASL_PLAINTEXT://localhost:{port}",
        "sasl.enabled.mechanisms": "GSSAPI,SCRAM-SHA-512",
        "sasl.kerberos.service.name": "kafka",
        "rampart.sasl.kerberos.principal": f"kafka/localhost@{kdc.realm}",
        "rampart.sasl.kerberos.keytab": str(kdc.broker_keytab),
        # ops/batch@REALM becomes "batch-ops"; one-component principals of the realm keep their name; other
        # two-component principals (which DEFAULT would map to their first component) match no rule.
        "sasl.kerberos.principal.to.local.rules": f"RULE:[2:$2-$1@$0](.*-ops@{kdc.realm})s/@.*//,RULE:[1:$1@$0](.*@{kdc.realm})s/@.*//",
        "rampart.log.level": "debug",
        "rampart.auth.failure.threshold": "0",
    })
    broker.start()
    yield broker
    stop_checked(broker, "GSSAPI broker")


def kcat(kdc, broker, principal, keytab, *args, input=None, ccache=None):
    ccache = ccache or f"FILE:{kdc.directory}/ccache-{uuid.uuid4().hex[:8]}"
    return subprocess.run([KCAT, "-b", f"localhost:{broker.port}", "-X", "security.protocol=SASL_PLAINTEXT",
                           "-X", "sasl.mechanisms=GSSAPI", "-X", "sasl.kerberos.service.name=kafka",
                           "-X", f"sasl.kerberos.principal={principal}", "-X", f"sasl.kerberos.keytab={keytab}", *args],
                          input=input, capture_output=True, timeout=60, env={**os.environ, **kdc.env, "KRB5CCNAME": ccache})


def test_kcat_produces_and_consumes_with_kerberos(kdc, gssapi_broker):
    topic = f"gssapi-{uuid.uuid4().hex[:6]}"
    produced = kcat(kdc, gssapi_broker, f"alice@{kdc.realm}", kdc.alice_keytab, "-P", "-t", topic, input=b"one\ntwo\nthree\n")
    assert produced.returncode == 0, produced.stderr.decode() + gssapi_broker.log_tail()
    consumed = kcat(kdc, gssapi_broker, f"alice@{kdc.realm}", kdc.alice_keytab, "-C", "-t", topic, "-o", "beginning", "-e", "-q")
    assert consumed.returncode == 0, consumed.stderr.decode()
    assert sorted(consumed.stdout.split()) == [b"one", b"three", b"two"]
    # The one-component rule maps alice@RAMPART.TEST to User:alice.
    assert re.search(r"authenticated .*mechanism=GSSAPI principal=User:alice ", gssapi_broker.log_path.read_text())


def test_principal_to_local_rules_map_a_two_component_principal(kdc, gssapi_broker):
    listed = kcat(kdc, gssapi_broker, f"ops/batch@{kdc.realm}", kdc.ops_keytab, "-L")
    assert listed.returncode == 0, listed.stderr.decode()
    assert re.search(r"authenticated .*mechanism=GSSAPI principal=User:batch-ops ", gssapi_broker.log_path.read_text())


def test_a_principal_no_rule_maps_cannot_log_in(kdc, gssapi_broker):
    refused = kcat(kdc, gssapi_broker, f"mallory/evil@{kdc.realm}", kdc.mallory_keytab, "-L", "-m", "5")
    assert refused.returncode != 0
    assert b"Authentication failed during authentication due to invalid credentials with SASL mechanism GSSAPI" in refused.stderr, \
        refused.stderr
    assert "no rule of sasl.kerberos.principal.to.local.rules applies to 'mallory/evil@" in gssapi_broker.log_path.read_text()


def test_a_ticket_for_another_service_is_refused(kdc, gssapi_broker):
    """A client asking for a ticket to a service the broker has no key for (sasl.kerberos.service.name=other)
    fails at the KDC or at the broker; either way it does not log in."""
    kdc.add_principal("other/localhost")
    ccache = f"FILE:{kdc.directory}/ccache-{uuid.uuid4().hex[:8]}"
    result = subprocess.run([KCAT, "-b", f"localhost:{gssapi_broker.port}", "-X", "security.protocol=SASL_PLAINTEXT",
                             "-X", "sasl.mechanisms=GSSAPI", "-X", "sasl.kerberos.service.name=other",
                             "-X", f"sasl.kerberos.principal=alice@{kdc.realm}", "-X", f"sasl.kerberos.keytab={kdc.alice_keytab}",
                             "-L", "-m", "5"], capture_output=True, timeout=60, env={**os.environ, **kdc.env, "KRB5CCNAME": ccache})
    assert result.returncode != 0
    assert gssapi_broker.is_running()
