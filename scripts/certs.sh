#!/usr/bin/env bash
# `make certs` and `make run`: a development CA and certificates in DIR (default certs), made by BINARY
# (`rampart cert`): `broker` (SANs localhost and 127.0.0.1, server and client use) and clients `admin`,
# `alice`, `bob`. Re-running keeps what exists.
set -euo pipefail
binary=$1
dir=${2:-certs}
"$binary" cert ca --dir "$dir" --cn "Rampart Development CA" --if-not-exists
"$binary" cert issue --dir "$dir" --cn broker --san localhost --san 127.0.0.1 --server --client --if-not-exists
for user in admin alice bob; do
  "$binary" cert issue --dir "$dir" --cn "$user" --client --if-not-exists
done
