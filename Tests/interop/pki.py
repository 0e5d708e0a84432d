"""Test certificates made with the openssl command (EC P-256) in a temporary directory, never committed:
a CA, certificates it signs, and the broker's PEM keystore (key + certificate, mode 0600)."""
import os
import subprocess

EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory, name):
    """A self-signed CA: `name.pem` and `name.key`."""
    openssl("req", "-x509", *EC, "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
            "-subj", f"/CN={name}", cwd=directory)


def keystore(directory, name):
    """`name-keystore.pem`: `name.key` then `name.crt`, mode 0600, replaced atomically (a broker that
    watches it never reads half a file)."""
    path = directory / f"{name}-keystore.pem"
    tmp = directory / f".{name}-keystore.tmp"
    tmp.write_text((directory / f"{name}.key").read_text() + (directory / f"{name}.crt").read_text())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def issue(directory, ca, name, subject, san=None, days="2"):
    """`name.crt` signed by `ca` for `days` (negative: already expired), its key `name.key` (0600) and
    `name-keystore.pem` (key + certificate)."""
    openssl("req", *EC, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=directory)
    args = ["x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
            "-CAcreateserial", "-out", f"{name}.crt", "-days", days]
    if san:
        (directory / f"{name}.ext").write_text(f"subjectAltName={san}\n")
        args += ["-extfile", f"{name}.ext"]
    openssl(*args, cwd=directory)
    os.chmod(directory / f"{name}.key", 0o600)
    keystore(directory, name)
