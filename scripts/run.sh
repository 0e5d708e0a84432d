#!/usr/bin/env bash
# `make run`: a single PLAINTEXT broker on 127.0.0.1:9092 with its data in ./data, in the foreground.
# This is the local development setup: no TLS, no authentication. The authorizer is on, as always:
# unauthenticated PLAINTEXT clients are User:ANONYMOUS, made a super user here; the ACLs of
# policies/ apply to every other principal.
# The configuration is written once to ./data/server.properties; edit it there to change settings.
set -euo pipefail
cd "$(dirname "$0")/.."
binary=${RAMPART_BIN:-.build/release/rampart}
config=data/server.properties
mkdir -p data/logs
if [ ! -f "$config" ]; then
  cat > "$config" <<PROPERTIES
# Written by \`make run\`: the local development broker. PLAINTEXT is unencrypted and unauthenticated;
# it is refused unless rampart.insecure.allow.plaintext=true.
node.id=1
listeners=PLAINTEXT://127.0.0.1:9092
rampart.insecure.allow.plaintext=true
log.dirs=data/logs
num.partitions=1
offsets.topic.replication.factor=1
group.initial.rebalance.delay.ms=0
# Clients on the PLAINTEXT listener are User:ANONYMOUS: allowed everything on this development broker.
super.users=User:ANONYMOUS
rampart.acl.policy.path=policies
PROPERTIES
  echo "wrote $config"
elif ! grep -qE '^(super\.users|rampart\.authorizer\.enabled|rampart\.acl\.policy\.path)=' "$config"; then
  # A configuration written before the authorizer existed: the broker now checks ACLs, so keep the
  # development broker usable the way it was.
  cat >> "$config" <<PROPERTIES
# Added by \`make run\` when the authorizer arrived (it is on by default): clients on the PLAINTEXT
# listener are User:ANONYMOUS, allowed everything on this development broker.
super.users=User:ANONYMOUS
rampart.acl.policy.path=policies
PROPERTIES
  echo "added super.users=User:ANONYMOUS and rampart.acl.policy.path=policies to $config"
fi
echo "starting $binary serve --config $config (Ctrl-C stops it)"
exec "$binary" serve --config "$config"
