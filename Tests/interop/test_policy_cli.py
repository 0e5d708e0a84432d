"""`rampart policy check|explain|test` on policy files, offline (no broker)."""
import subprocess

from test_sasl import rampart_binary

POLICY = """version: 1
acls:
  - principal: User:alice
    permission: allow
    operations: [Write]
    resource: {type: topic, name: "orders.", pattern: prefixed}
  - principal: "User:*"
    permission: deny
    operations: [Write]
    resource: {type: topic, name: orders.audit}
  - principal: user:bob
    permission: allow
    operations: [Read]
    resource: {type: topic, name: "*", pattern: prefixed}
"""


def policy(*args):
    return subprocess.run([rampart_binary(), "policy", *args], capture_output=True, text=True, timeout=60)


def test_check_reports_errors_and_lints(tmp_path):
    good = tmp_path / "p.yaml"
    good.write_text(POLICY)
    checked = policy("check", str(good))
    assert checked.returncode == 0, checked.stderr
    assert f"{good}:11: warning: principal 'user:bob'" in checked.stdout
    assert f"{good}:11: warning: PREFIXED '*'" in checked.stdout
    assert "3 ACLs in 1 file, 2 warnings" in checked.stdout
    assert policy("check", "--strict", str(good)).returncode == 1

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.yaml").write_text(POLICY.replace("operations: [Read]", "operations: [Reed]"))
    refused = policy("check", str(bad))
    assert refused.returncode == 1
    assert f"{bad / 'a.yaml'}:13" in refused.stderr and "Reed" in refused.stderr


def test_explain_names_the_deciding_rule(tmp_path):
    (tmp_path / "p.yaml").write_text(POLICY)
    allowed = policy("explain", "--policy", str(tmp_path), "--principal", "User:alice", "--operation", "Write", "--topic", "orders.eu")
    assert allowed.returncode == 0, allowed.stderr
    assert allowed.stdout.startswith("ALLOWED") and "p.yaml:3" in allowed.stdout
    denied = policy("explain", "--policy", str(tmp_path), "--principal", "User:alice", "--operation", "Write", "--topic", "orders.audit")
    assert denied.stdout.startswith("DENIED") and "p.yaml:7" in denied.stdout
    nothing = policy("explain", "--policy", str(tmp_path), "--principal", "User:alice", "--operation", "Read", "--group", "g")
    assert nothing.stdout.startswith("DENIED") and "no ACL on the resource: default deny" in nothing.stdout


def test_fixtures(tmp_path):
    (tmp_path / "p.yaml").write_text(POLICY)
    fixtures = tmp_path / "fixtures.yaml"
    fixtures.write_text("""policy: p.yaml
super-users: [User:admin]
tests:
  - {principal: User:alice, operation: Write, resource: {type: topic, name: orders.eu}, expect: allow}
  - {principal: User:alice, operation: Write, resource: {type: topic, name: orders.audit}, expect: deny}
  - {principal: User:admin, operation: Alter, resource: {type: cluster}, expect: allow}
""")
    passed = policy("test", str(fixtures))
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "3 passed, 0 failed" in passed.stdout
    fixtures.write_text(fixtures.read_text() + "  - {principal: User:bob, operation: Read, resource: {type: topic, name: x}, expect: allow}\n")
    failed = policy("test", str(fixtures))
    assert failed.returncode == 1 and "FAIL test 4" in failed.stdout and "3 passed, 1 failed" in failed.stdout


def test_diff(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text(POLICY)
    new = tmp_path / "new"
    new.mkdir()
    (new / "a.yaml").write_text(POLICY.replace("name: orders.audit", "name: orders.secret")
                                + "  - principal: User:carol\n    permission: allow\n    operations: [Read]\n"
                                  "    resource: {type: group, name: g}\n")
    diff = policy("diff", str(old), str(new))
    assert diff.returncode == 0, diff.stderr
    out = diff.stdout
    assert "grants (ALLOW added):\n  ALLOW Read for User:carol from * on Group:LITERAL:g" in out
    assert "revokes (DENY added):\n  DENY Write for User:* from * on Topic:LITERAL:orders.secret" in out
    assert "grants back (DENY removed):\n  DENY Write for User:* from * on Topic:LITERAL:orders.audit" in out
    assert "2 rules added, 1 removed" in out
    same = policy("diff", str(old), str(old))
    assert "no change" in same.stdout
