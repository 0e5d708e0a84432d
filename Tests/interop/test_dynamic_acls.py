"""Dynamic ACLs with real clients: confluent-kafka AdminClient create_acls / describe_acls / delete_acls
over mTLS principals change what a principal may do at once; DescribeAcls lists policy-file ACLs too,
and DeleteAcls refuses to delete them, naming the file and line; only Alter on the Cluster may change ACLs.
"""
import os
import subprocess

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient,
                                   ResourcePatternType, ResourceType)

from test_authorizer import config, consume_all, make_pki, mtls_broker, produce
from test_sasl import rampart_binary

POLICY = """version: 1
acls:
  - principal: User:bob
    permission: allow
    operations: [Describe]
    resource: {type: topic, name: "payments."}
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("dynacl-pki"), ("admin", "alice", "bob"))


@pytest.fixture(scope="module")
def broker(tmp_path_factory, pki):
    work = tmp_path_factory.mktemp("dynacl-broker")
    for broker in mtls_broker(work, pki, "base.yaml", POLICY, ("payments.eu",), {"rampart.audit.log.path": str(work / "audit.log")}):
        broker.audit = work / "audit.log"
        yield broker


def alice_acl(operation=AclOperation.WRITE, permission=AclPermissionType.ALLOW):
    return AclBinding(ResourceType.TOPIC, "payments.", ResourcePatternType.PREFIXED, "User:alice", "*", operation, permission)


def every(principal=None):
    return AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY, principal, None, AclOperation.ANY, AclPermissionType.ANY)


def test_create_describe_delete_change_access_at_once(broker, pki):
    admin = AdminClient(config(broker, pki, "admin"))
    refused = produce(broker, pki, "alice", "payments.eu", ["before"])
    assert [e.code() for e in refused] == [KafkaError.TOPIC_AUTHORIZATION_FAILED]

    for future in admin.create_acls([alice_acl()]).values():
        assert future.result(timeout=10) is None
    assert produce(broker, pki, "alice", "payments.eu", ["during"]) == [None]

    listed = admin.describe_acls(every()).result(timeout=10)
    assert alice_acl() in listed
    bob_file_acl = AclBinding(ResourceType.TOPIC, "payments.", ResourcePatternType.LITERAL, "User:bob", "*",
                              AclOperation.DESCRIBE, AclPermissionType.ALLOW)
    assert bob_file_acl in listed   # policy-file ACLs are listed too
    matched = admin.describe_acls(AclBindingFilter(ResourceType.TOPIC, "payments.eu", ResourcePatternType.MATCH, None, None,
                                                   AclOperation.ANY, AclPermissionType.ANY)).result(timeout=10)
    assert matched == [alice_acl()]

    # A DENY wins at once.
    admin.create_acls([alice_acl(permission=AclPermissionType.DENY)])[alice_acl(permission=AclPermissionType.DENY)].result(timeout=10)
    assert [e.code() for e in produce(broker, pki, "alice", "payments.eu", ["denied"])] == [KafkaError.TOPIC_AUTHORIZATION_FAILED]

    deleted = list(admin.delete_acls([every("User:alice")]).values())[0].result(timeout=10)
    assert sorted(b.permission_type.name for b in deleted) == ["ALLOW", "DENY"]
    assert [e.code() for e in produce(broker, pki, "alice", "payments.eu", ["after"])] == [KafkaError.TOPIC_AUTHORIZATION_FAILED]
    assert admin.describe_acls(every("User:alice")).result(timeout=10) == []


def test_acls_survive_a_restart(broker, pki):
    admin = AdminClient(config(broker, pki, "admin"))
    admin.create_acls([alice_acl()])[alice_acl()].result(timeout=10)
    broker.restart()
    assert produce(broker, pki, "alice", "payments.eu", ["restarted"]) == [None]
    admin = AdminClient(config(broker, pki, "admin"))
    list(admin.delete_acls([every("User:alice")]).values())[0].result(timeout=10)


def test_file_acls_cannot_be_deleted(broker, pki):
    """librdkafka does not surface DeleteAcls' per-ACL errors: the file ACL is listed among the matches, but
    it stays (`rampart acl remove` shows the broker's message, see test_rampart_acl_cli)."""
    admin = AdminClient(config(broker, pki, "admin"))
    list(admin.delete_acls([every("User:bob")]).values())[0].result(timeout=10)
    assert len(admin.describe_acls(every("User:bob")).result(timeout=10)) == 1


def test_only_alter_on_the_cluster_changes_acls(broker, pki):
    alice = AdminClient(config(broker, pki, "alice"))
    with pytest.raises(KafkaException) as refused:
        alice.create_acls([alice_acl()])[alice_acl()].result(timeout=10)
    assert refused.value.args[0].code() == KafkaError.CLUSTER_AUTHORIZATION_FAILED
    # DescribeAcls answers CLUSTER_AUTHORIZATION_FAILED with no ACLs (AclHandlerTests checks the code);
    # librdkafka drops that top-level error and reports an empty list: nothing leaks either way.
    assert alice.describe_acls(every()).result(timeout=10) == []


def test_invalid_acls_are_refused(broker, pki):
    admin = AdminClient(config(broker, pki, "admin"))
    prefixed_star = AclBinding(ResourceType.TOPIC, "*", ResourcePatternType.PREFIXED, "User:alice", "*",
                               AclOperation.READ, AclPermissionType.ALLOW)
    with pytest.raises(KafkaException) as refused:
        admin.create_acls([prefixed_star])[prefixed_star].result(timeout=10)
    assert refused.value.args[0].code() == KafkaError.INVALID_REQUEST
    assert "PREFIXED" in refused.value.args[0].str()


def test_rampart_acl_cli(broker, pki, tmp_path):
    """`rampart acl add|list|remove` with kafka-acls' flags, as the mTLS super user admin."""
    properties = tmp_path / "admin.properties"
    properties.write_text(f"security.protocol=SSL\nssl.ca.location={pki / 'ca.pem'}\n"
                          f"ssl.certificate.location={pki / 'admin.crt'}\nssl.key.location={pki / 'admin.key'}\n")

    def acl(*args, stdin=None):
        return subprocess.run([rampart_binary(), "acl", *args, "--bootstrap-server", broker.bootstrap,
                               "--command-config", str(properties)], input=stdin, capture_output=True, text=True, timeout=60)

    added = acl("add", "--allow-principal", "User:alice", "--producer", "--topic", "payments.", "--resource-pattern-type", "prefixed")
    assert added.returncode == 0, added.stderr
    assert "operation=WRITE, permissionType=ALLOW" in added.stdout
    assert produce(broker, pki, "alice", "payments.eu", ["cli"]) == [None]

    added = acl("add", "--allow-principal", "User:bob", "--consumer", "--topic", "payments.eu", "--group", "ledger")
    assert added.returncode == 0, added.stderr
    values, error = consume_all(broker, pki, "bob", "payments.eu", "ledger")
    assert error is None and "cli" in values

    listed = acl("list", "--topic", "payments.eu", "--resource-pattern-type", "match")
    assert listed.returncode == 0, listed.stderr
    assert "name=payments., patternType=PREFIXED" in listed.stdout and "principal=User:alice" in listed.stdout
    assert "name=payments.eu, patternType=LITERAL" in listed.stdout and "principal=User:bob" in listed.stdout

    declined = acl("remove", "--topic", "payments.", "--resource-pattern-type", "prefixed", stdin="n\n")
    assert declined.returncode == 0 and "Nothing removed" in declined.stdout
    assert produce(broker, pki, "alice", "payments.eu", ["still"]) == [None]

    removed = acl("remove", "--allow-principal", "User:alice", "--operation", "Write", "--topic", "payments.",
                  "--resource-pattern-type", "prefixed", "--force")
    assert removed.returncode == 0, removed.stderr
    assert [e.code() for e in produce(broker, pki, "alice", "payments.eu", ["gone"])] == [KafkaError.TOPIC_AUTHORIZATION_FAILED]

    # A file ACL cannot be removed: exit status 1 and the file:line.
    refused = acl("remove", "--topic", "payments.", "--force")
    assert refused.returncode == 1 and "base.yaml:3" in refused.stderr

    for args in (["--topic", "payments.", "--resource-pattern-type", "prefixed"], ["--topic", "payments.eu"], ["--group", "ledger"]):
        assert acl("remove", *args, "--force").returncode == 0
    assert "User:alice" not in acl("list").stdout


def test_audit_log(broker, pki, tmp_path):
    """Denials and ACL changes land in the audit log (0600); `rampart audit verify` checks the chain."""
    import json
    import stat
    import time
    assert [e.code() for e in produce(broker, pki, "alice", "payments.eu", ["audited"])] == [KafkaError.TOPIC_AUTHORIZATION_FAILED]
    admin = AdminClient(config(broker, pki, "admin"))
    admin.create_acls([alice_acl()])[alice_acl()].result(timeout=10)
    list(admin.delete_acls([every("User:alice")]).values())[0].result(timeout=10)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        events = [json.loads(line) for line in broker.audit.read_text().splitlines()]
        if any(e.get("action", "").startswith("DeleteAcls") for e in events):
            break
        time.sleep(0.1)
    assert stat.S_IMODE(os.stat(broker.audit).st_mode) == 0o600
    denial = next(e for e in events if e["principal"] == "User:alice" and e["api"] == "Produce")
    assert denial["decision"] == "DENIED" and denial["resource"] == "Topic:payments.eu" and denial["operation"] == "Write"
    assert denial["client"] == "127.0.0.1" and denial["listener"] == "SSL" and len(denial["prev"]) == 64 and denial["policy"]
    created = next(e for e in events if e.get("action", "").startswith("CreateAcls"))
    assert created["decision"] == "ALLOWED" and created["principal"] == "User:admin" and "User:alice" in created["action"]

    verify = lambda path: subprocess.run([rampart_binary(), "audit", "verify", str(path)], capture_output=True, text=True, timeout=30)
    ok = verify(broker.audit)
    assert ok.returncode == 0 and "chain intact" in ok.stdout, ok.stdout + ok.stderr
    lines = broker.audit.read_text().splitlines()
    tampered = tmp_path / "tampered.log"
    tampered.write_text("\n".join([lines[0].replace("User:alice", "User:alicf")] + lines[1:]) + "\n")
    assert verify(tampered).returncode == 1
    tampered.write_text("\n".join(lines[1:]) + "\n")
    assert verify(tampered).returncode == 1
