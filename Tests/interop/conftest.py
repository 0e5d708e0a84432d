"""Fixtures for the interop suite: a real Rampart broker process and helpers around it.

The fixture builds nothing: it starts the binary `make interop` built (`.build/debug/rampart`, or the
path in `RAMPART_BIN`) on a free loopback port with a generated server.properties, waits until the port
answers ApiVersions, and stops it with SIGTERM at the end, asserting exit code 0.
"""

import ctypes
import os
import resource
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

import kafkawire

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BINARY = REPO_ROOT / ".build" / "debug" / "rampart"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL the broker if pytest itself dies (no orphans).

    The signal follows the *thread* that forked, so brokers are started from the main thread only.
    """
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def free_loopback_port() -> int:
    """A port nothing listens on right now (the broker binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Every principal may do everything but Alter the cluster: the default policy of test brokers (see BrokerProcess).
ALLOW_ALL_POLICY = """version: 1
acls:
  - principal: "User:*"
    permission: allow
    operations: [All]
    resource: {type: topic, name: "*"}
  - principal: "User:*"
    permission: allow
    operations: [All]
    resource: {type: group, name: "*"}
  - principal: "User:*"
    permission: allow
    operations: [All]
    resource: {type: transactional-id, name: "*"}
  # Every cluster operation but Alter: managing users (and, later, ACLs) stays with super.users.
  - principal: "User:*"
    permission: allow
    operations: [Create, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, Describe]
    resource: {type: cluster}
"""


class BrokerProcess:
    """One `rampart serve` process with its own data directory; survives restarts on the same port."""

    # Every broker this session started, so that the end of the session can prove none is left behind.
    all_started = []

    def __init__(self, workdir: Path, extra_properties=None, port=None, tls_ca=None, tls_client=None, env=None,
                 nofile=None):
        self.binary = Path(os.environ.get("RAMPART_BIN", DEFAULT_BINARY))
        if not self.binary.exists():
            raise RuntimeError(f"broker binary {self.binary} is missing: run `swift build` (or `make interop`)")
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_loopback_port()
        self.host = "127.0.0.1"
        self.config_path = workdir / "server.properties"
        self.log_path = workdir / "broker.log"
        self.process = None
        self.starts = 0
        self.env = env  # extra environment variables for the broker process (e.g. KRB5_CONFIG)
        self.nofile = nofile  # RLIMIT_NOFILE (soft and hard) of the broker process, when set
        # The authorizer is on by default; the suites that are not about it run with a policy that allows
        # every principal everything (tests about ACLs give their own rampart.acl.policy.path).
        self.allow_all_policy = workdir / "allow-all-policy.yaml"
        self.allow_all_policy.write_text(ALLOW_ALL_POLICY)
        properties = {
            "node.id": "1",
            "listeners": f"PLAINTEXT://{self.host}:{self.port}",
            "rampart.insecure.allow.plaintext": "true",
            "log.dirs": str(self.data_dir),
            "group.initial.rebalance.delay.ms": "0",
            "num.partitions": "3",
            "offsets.topic.num.partitions": "5",
            "offsets.topic.replication.factor": "1",
            "rampart.log.level": "info",
            "rampart.acl.policy.path": str(self.allow_all_policy),
        }
        # A TLS listener is probed for readiness over TLS, trusting this CA file.
        self.tls_ca = tls_ca
        self.tls_client = tls_client  # (certificate, key) for listeners that require client certificates
        properties.update({k: v.format(port=self.port) if isinstance(v, str) else v for k, v in (extra_properties or {}).items()})
        self.config_path.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = START_TIMEOUT_S) -> None:
        assert self.process is None or self.process.poll() is not None, "broker already running"
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"\n===== start #{self.starts} =====\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [str(self.binary), "serve", "--config", str(self.config_path)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.workdir,
            preexec_fn=self._preexec, env={**os.environ, **self.env} if self.env else None,
        )
        BrokerProcess.all_started.append(self.process)
        log.close()
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"broker exited with {self.process.returncode} during start-up:\n{self.log_tail()}")
            try:
                if self.tls_ca:
                    context = ssl.create_default_context(cafile=str(self.tls_ca))
                    if self.tls_client:
                        context.load_cert_chain(str(self.tls_client[0]), str(self.tls_client[1]))
                    with context.wrap_socket(socket.create_connection((self.host, self.port), timeout=2.0),
                                             server_hostname=self.host) as tls_sock:
                        kafkawire.api_versions(self.host, self.port, timeout=2.0, sock=tls_sock)
                else:
                    kafkawire.api_versions(self.host, self.port, timeout=2.0)
                return
            except OSError as error:
                last_error = error
                time.sleep(0.1)
        self.kill9()
        raise RuntimeError(f"broker did not answer ApiVersions within {timeout}s ({last_error}):\n{self.log_tail()}")

    def _preexec(self) -> None:
        _die_with_parent()
        if self.nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def open_descriptors(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM and wait; returns the exit code (a hang is killed and reported as a failure)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"broker ignored SIGTERM for {timeout}s:\n{self.log_tail()}")

    def stop_cleanly(self) -> None:
        code = self.stop()
        assert code == 0, f"broker exited with {code} after SIGTERM:\n{self.log_tail()}"

    def kill9(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)

    def restart(self) -> None:
        """Clean stop (exit code 0 asserted) and start on the same port and data."""
        self.stop_cleanly()
        self.start()

    def crash_and_restart(self) -> None:
        self.kill9()
        self.start()

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no broker log)"


@pytest.fixture(scope="session")
def broker_process():
    """The broker shared by the whole session."""
    with tempfile.TemporaryDirectory(prefix="rampart-interop-") as workdir:
        broker = BrokerProcess(Path(workdir))
        broker.start()
        try:
            yield broker
        finally:
            was_running = broker.is_running()
            code = broker.stop()
            if os.environ.get("RAMPART_KEEP_LOG"):
                Path(os.environ["RAMPART_KEEP_LOG"]).write_text(broker.log_path.read_text(errors="replace"))
            tail = broker.log_tail(80)
        assert was_running, f"the shared broker was not running at the end of the session (exit code {code}):\n{tail}"
        assert code == 0, f"broker exited with {code} after SIGTERM:\n{tail}"


@pytest.fixture
def broker(broker_process):
    """The shared broker; fails the test (with the log) if it died during it."""
    if not broker_process.is_running():
        broker_process.start()
    yield broker_process
    assert broker_process.is_running(), f"the broker died during the test:\n{broker_process.log_tail()}"


@pytest.fixture
def bootstrap(broker) -> str:
    """`host:port` of the shared broker."""
    return broker.bootstrap


@pytest.fixture
def private_broker(tmp_path):
    """A broker of the test's own, for tests that restart or kill it."""
    broker = BrokerProcess(tmp_path / "broker")
    broker.start()
    try:
        yield broker
    finally:
        was_running = broker.is_running()
        code = broker.stop()
    # A test that failed with the broker down has already reported; only a running broker owes exit 0.
    assert not was_running or code == 0, f"private broker exited with {code} after SIGTERM:\n{broker.log_tail()}"


@pytest.fixture
def topic_name(request) -> str:
    """A topic name unique to the test."""
    base = "".join(c if c.isalnum() or c in "-_" else "-" for c in request.node.name)[:120]
    return f"{base}-{uuid.uuid4().hex[:8]}"


def pytest_sessionfinish(session, exitstatus):
    """No test may leave a broker behind: kill leftovers and fail the run."""
    leftovers = [p for p in BrokerProcess.all_started if p.poll() is None]
    for process in leftovers:
        process.kill()
        process.wait()
    if leftovers:
        print(f"\ninterop: {len(leftovers)} broker process(es) were still running at the end and were killed")
        session.exitstatus = 1


def pytest_runtest_makereport(item, call):
    """Attach the broker's log tail to failing tests that used a broker."""
    if call.when != "call" or call.excinfo is None:
        return
    for name in ("broker_process", "private_broker"):
        broker = item.funcargs.get(name) if hasattr(item, "funcargs") else None
        if isinstance(broker, BrokerProcess):
            item.add_report_section("call", f"{name} log", broker.log_tail(40))
