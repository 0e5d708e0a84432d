#!/usr/bin/env bash
# Creates .venv with the third-party Kafka clients used by fixtures and interop tests.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=.venv/.rampart-stamp
want="kafka-python==3.0.12 confluent-kafka aiokafka pytest pytest-timeout python-snappy cramjam lz4 zstandard PyJWT cryptography prometheus-client"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
python3 -m venv .venv
.venv/bin/pip install -q --upgrade pip >/dev/null
# shellcheck disable=SC2086
.venv/bin/pip install -q $want
echo "$want" > "$stamp"
