"""A throw-away MIT Kerberos KDC on loopback for GSSAPI tests: its own krb5.conf, kdc.conf, database and
keytabs in a temporary directory, principals made with kadmin.local, stopped (and its files removed by
pytest's tmp_path) at the end. Needs Debian's krb5-kdc and krb5-admin-server (scripts/install-deps.sh).
Nothing outside the directory is read or written: every command runs with KRB5_CONFIG, KRB5_KDC_PROFILE
and KRB5CCNAME pointing into it.
"""
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from conftest import _die_with_parent, free_loopback_port

KDC = shutil.which("krb5kdc") or "/usr/sbin/krb5kdc"
KDB5_UTIL = shutil.which("kdb5_util") or "/usr/sbin/kdb5_util"
KADMIN_LOCAL = shutil.which("kadmin.local") or "/usr/sbin/kadmin.local"


def available() -> bool:
    return all(os.path.exists(tool) for tool in (KDC, KDB5_UTIL, KADMIN_LOCAL)) and shutil.which("kinit") is not None


class MiniKDC:
    def __init__(self, directory: Path, realm: str = "RAMPART.TEST"):
        self.directory = directory
        self.realm = realm
        self.port = free_loopback_port()
        self.krb5_conf = directory / "krb5.conf"
        self.kdc_conf = directory / "kdc.conf"
        self.process = None
        directory.mkdir(parents=True, exist_ok=True)
        self.krb5_conf.write_text(f"""[libdefaults]
  default_realm = {realm}
  dns_lookup_realm = false
  dns_lookup_kdc = false
  dns_canonicalize_hostname = false
  rdns = false
  udp_preference_limit = 1
  default_ccache_name = FILE:{directory}/ccache-default
[realms]
  {realm} = {{
    kdc = 127.0.0.1:{self.port}
  }}
[domain_realm]
  localhost = {realm}
""")
        self.kdc_conf.write_text(f"""[kdcdefaults]
  kdc_ports = {self.port}
  kdc_tcp_ports = {self.port}
[realms]
  {realm} = {{
    database_name = {directory}/principal
    key_stash_file = {directory}/stash
    acl_file = {directory}/kadm5.acl
    max_life = 1h
    supported_enctypes = aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal
  }}
[logging]
  kdc = FILE:{directory}/kdc.log
""")
        (directory / "kadm5.acl").write_text("")

    @property
    def env(self):
        """The environment every Kerberos user of this KDC runs with."""
        return {"KRB5_CONFIG": str(self.krb5_conf), "KRB5_KDC_PROFILE": str(self.kdc_conf),
                "KRB5CCNAME": f"FILE:{self.directory}/ccache", "KRB5RCACHETYPE": "none"}

    def _run(self, *args):
        result = subprocess.run(list(args), env={**os.environ, **self.env}, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{args}: {result.stdout}{result.stderr}"
        return result.stdout

    def start(self):
        self._run(KDB5_UTIL, "-r", self.realm, "create", "-s", "-P", secrets.token_hex(16))
        self.process = subprocess.Popen([KDC, "-n", "-r", self.realm], env={**os.environ, **self.env},
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        deadline = time.monotonic() + 20
        while True:
            assert self.process.poll() is None, f"krb5kdc exited:\n{self.log()}"
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                assert time.monotonic() < deadline, f"krb5kdc did not listen on {self.port}:\n{self.log()}"
                time.sleep(0.1)

    def add_principal(self, name: str, keytab: Path = None) -> Path:
        """Adds `name` (without realm) with a random key; exports it to `keytab` (default <dir>/<name>.keytab)."""
        keytab = keytab or self.directory / (name.replace("/", "_") + ".keytab")
        self._run(KADMIN_LOCAL, "-r", self.realm, "-q", f"addprinc -randkey {name}@{self.realm}")
        self._run(KADMIN_LOCAL, "-r", self.realm, "-q", f"ktadd -k {keytab} {name}@{self.realm}")
        os.chmod(keytab, 0o600)
        return keytab

    def log(self) -> str:
        path = self.directory / "kdc.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else "(no KDC log)"

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
