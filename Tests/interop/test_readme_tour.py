"""`make run`'s secure quick start and the README's tour of it, run as written.

`scripts/run.sh` (what `make run` executes) runs in a temporary RAMPART_HOME holding a copy of the
repository's `config/server.properties` (only the listener port changed) and `policies/`: it creates the
certificates and the `admin` user there and execs the broker. The README section "A secure quick start"
is then run as a shell script against it — never in the repository's own certs/ or data/.
"""

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DEFAULT_BINARY, _die_with_parent, free_loopback_port

REPO_ROOT = Path(__file__).resolve().parents[2]
SECTION = "## A secure quick start"


def tour_commands() -> str:
    """The shell blocks of the README's quick-start section, minus `make run` (the fixture runs scripts/run.sh)."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split(SECTION, 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    lines = [line for block in blocks for line in block.splitlines() if not line.startswith("make run")]
    return "\n".join(lines) + "\n"


class QuickStart:
    """scripts/run.sh in its own home directory, on its own port."""

    def __init__(self, home: Path):
        self.home = home
        self.port = free_loopback_port()
        self.binary = Path(os.environ.get("RAMPART_BIN", DEFAULT_BINARY))
        (home / "config").mkdir(parents=True)
        config = (REPO_ROOT / "config" / "server.properties").read_text()
        assert "listeners=SASL_SSL://127.0.0.1:9093\n" in config
        (home / "config" / "server.properties").write_text(config.replace("127.0.0.1:9093", f"127.0.0.1:{self.port}"))
        shutil.copytree(REPO_ROOT / "policies", home / "policies")
        self.log_path = home / "run.log"
        self.process = None

    def start(self, timeout: float = 60.0) -> None:
        seen = len(self.log())  # the log is appended to: look for this start's line only
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            ["bash", str(REPO_ROOT / "scripts" / "run.sh")], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=REPO_ROOT, preexec_fn=_die_with_parent,
            env={**os.environ, "RAMPART_HOME": str(self.home), "RAMPART_BIN": str(self.binary)})
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"make run's script exited with {self.process.returncode}:\n{self.log()}")
            if "Rampart broker started" in self.log()[seen:]:
                return
            time.sleep(0.1)
        self.process.kill()
        raise RuntimeError(f"the quick-start broker did not start within {timeout}s:\n{self.log()}")

    def stop(self) -> int:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)  # run.sh exec'd the broker: this is the broker
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"the broker ignored SIGTERM:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def admin_password(self) -> str:
        text = (self.home / "certs" / "admin.properties").read_text()
        return re.search(r"^sasl\.password=(.+)$", text, flags=re.M).group(1)

    def rampart(self, *args: str, config: str = "certs/admin.properties") -> subprocess.CompletedProcess:
        return subprocess.run([str(self.binary), *args, "--bootstrap-server", f"127.0.0.1:{self.port}", "--command-config", config],
                              capture_output=True, text=True, timeout=60, cwd=self.home)


@pytest.fixture
def quickstart(tmp_path):
    qs = QuickStart(tmp_path / "home")
    yield qs
    assert qs.stop() == 0, f"the broker did not exit cleanly:\n{qs.log()}"


def test_readme_tour_runs_as_written(quickstart):
    quickstart.start()
    home = quickstart.home

    # What make run set up: the admin client properties (0600), a strong password that no log shows.
    properties = home / "certs" / "admin.properties"
    assert stat.S_IMODE(properties.stat().st_mode) == 0o600
    text = properties.read_text()
    for line in ["security.protocol=SASL_SSL", "ssl.ca.location=certs/ca.crt", "sasl.mechanisms=SCRAM-SHA-512", "sasl.username=admin"]:
        assert line in text.splitlines(), text
    password = quickstart.admin_password()
    assert len(password) >= 32
    assert password not in quickstart.log()
    # In the repository, the file make run writes is ignored by git.
    ignored = subprocess.run(["git", "check-ignore", "-q", "certs/admin.properties"], cwd=REPO_ROOT)
    assert ignored.returncode == 0, "certs/admin.properties is not ignored by git"

    script = tour_commands()
    for expected in ["topic create", "kcat", "confluent_kafka", "user add alice", "acl add", "policy explain", "audit verify"]:
        assert expected in script, f"the README's tour lost its '{expected}' step"
    script = (script.replace("127.0.0.1:9093", f"127.0.0.1:{quickstart.port}")
              .replace(".build/release/rampart", str(quickstart.binary))
              .replace(".venv/bin/python", sys.executable))
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                            timeout=100, cwd=home, env={**os.environ, "LC_ALL": "C.UTF-8"})
    assert result.returncode == 0, f"the tour failed:\n{script}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    out, err = result.stdout, result.stderr
    assert "Created topic demo." in out
    assert "alice\thello" in out and "bob\tworld" in out
    assert 'topic "demo" with 3 partitions' in out
    for record in ["alice=hello", "bob=world", "carol=hi", "dave=from python"]:
        assert record in out, out
    # alice is refused before the ACL, explained both ways, allowed after it.
    assert "refused, as expected" in out
    assert "TOPIC_AUTHORIZATION_FAILED" in err
    assert "DENIED: User:alice Write Topic 'demo' from 0.0.0.0 — no ACL on the resource: default deny" in out
    assert (f"ALLOWED: User:alice Write Topic 'demo' from 0.0.0.0 — ALLOW Write for User:alice from host * on Topic:LITERAL:demo "
            f"(ACL of broker 127.0.0.1:{quickstart.port})") in out
    assert "DENIED: User:alice Read Topic 'demo' from 0.0.0.0 — no ACL allows User:alice to Read from 0.0.0.0: default deny" in out
    assert "note: DescribeAcls does not say whether an ACL comes from a policy file" in out
    assert re.search(r"data/audit\.log: \d+ events, chain intact", out), out

    # The audit log recorded the tour, and holds neither password.
    alice_password = re.search(r"^sasl\.password=(.+)$", (home / "certs" / "alice.properties").read_text(), flags=re.M).group(1)
    audit = (home / "data" / "audit.log").read_text()
    assert '"event":"authentication"' in audit and '"principal":"User:admin"' in audit
    assert "CreateTopics demo (partitions 3" in audit
    assert "AlterUserScramCredentials upsert SCRAM-SHA-512 credential of user alice" in audit
    assert "CreateAcls Topic:LITERAL:demo (principal=User:alice" in audit
    assert '"decision":"DENIED"' in audit and '"principal":"User:alice"' in audit
    assert password not in audit and alice_password not in audit
    assert password not in quickstart.log() and alice_password not in quickstart.log()

    # A wrong password is refused and audited as a failed login.
    bad = home / "certs" / "wrong.properties"
    bad.write_text(text.replace(f"sasl.password={password}", "sasl.password=not-the-password"))
    refused = quickstart.rampart("topic", "list", config=str(bad))
    assert refused.returncode != 0 and "SASL_AUTHENTICATION_FAILED" in refused.stderr, refused
    deadline = time.monotonic() + 5
    while '"reason":"invalid_credentials"' not in (home / "data" / "audit.log").read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert '"decision":"FAILED"' in (home / "data" / "audit.log").read_text()


def test_rerunning_make_run_reuses_what_exists(quickstart):
    home = quickstart.home
    quickstart.start()
    created = quickstart.rampart("topic", "create", "--topic", "kept", "--partitions", "1")
    assert created.returncode == 0, created
    ca = (home / "certs" / "ca.crt").read_bytes()
    properties = (home / "certs" / "admin.properties").read_text()
    assert quickstart.stop() == 0

    # Again: same certificates, same admin password, same data.
    quickstart.start()
    assert (home / "certs" / "ca.crt").read_bytes() == ca
    assert (home / "certs" / "admin.properties").read_text() == properties
    listed = quickstart.rampart("topic", "list")
    assert listed.returncode == 0 and "kept" in listed.stdout.split(), listed
    assert quickstart.stop() == 0

    # rm -rf data: admin is re-created with the password of certs/admin.properties.
    shutil.rmtree(home / "data")
    quickstart.start()
    assert (home / "certs" / "admin.properties").read_text() == properties
    listed = quickstart.rampart("topic", "list")
    assert listed.returncode == 0 and "kept" not in listed.stdout.split(), listed
    assert quickstart.admin_password() not in quickstart.log()
