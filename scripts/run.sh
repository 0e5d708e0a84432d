#!/usr/bin/env bash
# `make run`: Rampart's secure quick start, in the foreground (Ctrl-C stops it).
#
# Starts a broker from config/server.properties: one SASL_SSL listener on 127.0.0.1:9093 with the
# development certificates of certs/, SCRAM-SHA-512 logins, super.users=User:admin, the ACL
# authorizer with the policies of policies/ (default deny), data and the audit log in data/.
# Before the first start it creates what is missing, and re-running reuses what exists:
#   - certs/: the development CA and certificates (`make certs`);
#   - the `admin` user (SCRAM-SHA-512), created offline in data/logs with a random password that is
#     written only to certs/admin.properties (mode 0600, ignored by git) — a client configuration for
#     `rampart --command-config` and `kcat -F`. The password is never printed.
#
# RAMPART_HOME (default: the repository) is the directory the broker runs in: config/, certs/, data/
# and policies/ are resolved there. RAMPART_BIN overrides the binary (default .build/release/rampart).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
home=${RAMPART_HOME:-$repo}
binary=${RAMPART_BIN:-$repo/.build/release/rampart}
cd "$home"
config=config/server.properties
if [ ! -f "$config" ]; then
  echo "make run: $home/$config is missing (the repository has one)" >&2
  exit 1
fi
[ -f data/server.properties ] && echo "note: data/server.properties (the old PLAINTEXT setup of make run) is no longer used; $config is"

"$repo/scripts/certs.sh" "$binary" certs
mkdir -p data/logs

# The admin user. certs/admin.properties holds its password: it is made once, and if the data
# directory was wiped (rm -rf data) the user is re-created with the same password.
properties=certs/admin.properties
users=$("$binary" user list --config "$config")   # fails (and stops here) if a broker holds data/
if ! grep -q '^admin[[:space:]]' <<<"$users"; then
  if [ -f "$properties" ]; then
    password=$(sed -n 's/^sasl\.password=//p' "$properties" | head -n 1)
    [ -n "$password" ] || { echo "make run: $properties has no sasl.password; remove it to make a new admin password" >&2; exit 1; }
    printf '%s\n' "$password" | "$binary" user add admin --mechanism SCRAM-SHA-512 --config "$config" --password-stdin
  else
    password=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    # The file first: if adding the user fails, the next run adds it with the same password.
    (
      umask 077
      cat > "$properties.tmp" <<PROPERTIES
# Written by \`make run\`: the admin user (super.users) of the quick-start broker. Keep it private (0600).
# rampart: --command-config $properties; kcat: -F $properties; confluent-kafka: these keys as its config.
security.protocol=SASL_SSL
ssl.ca.location=certs/ca.crt
sasl.mechanisms=SCRAM-SHA-512
sasl.username=admin
sasl.password=$password
PROPERTIES
    )
    mv "$properties.tmp" "$properties"
    printf '%s\n' "$password" | "$binary" user add admin --mechanism SCRAM-SHA-512 --config "$config" --password-stdin
    echo "created user admin; its client configuration (with the password) is $properties"
  fi
  unset password
fi

echo "starting $binary serve --config $config in $home (Ctrl-C stops it); clients: --command-config $properties (user admin)"
exec "$binary" serve --config "$config"
