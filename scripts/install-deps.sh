#!/usr/bin/env bash
# Installs the Debian packages Rampart builds and tests with. Idempotent; runs apt only when something
# is missing. As a non-root user it prints the apt command instead. Extra package names may be given
# as arguments (e.g. `fio` for the storage benchmark).
set -euo pipefail
# libsasl2-modules-gssapi-mit: Cyrus's GSSAPI plugin; krb5-kdc, krb5-admin-server (kadmin.local) and krb5-user
# (kinit, which librdkafka runs) for the Kerberos interop tests' throw-away KDC.
packages=(pkg-config openssl libssl-dev libsasl2-dev libsasl2-modules libsasl2-modules-gssapi-mit zlib1g-dev libsnappy-dev
          liblz4-dev libzstd-dev kcat krb5-kdc krb5-admin-server krb5-user "$@")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages: ${missing[*]}" >&2
  echo "run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
