#!/usr/bin/env bash
# `make run`: a single PLAINTEXT broker on 127.0.0.1:9092 with its data in ./data, in the foreground.
# This is the local development setup: no TLS, no authentication (TLS arrives with issue 5).
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
PROPERTIES
  echo "wrote $config"
fi
echo "starting $binary serve --config $config (Ctrl-C stops it)"
exec "$binary" serve --config "$config"
