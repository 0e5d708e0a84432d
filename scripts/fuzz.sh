#!/usr/bin/env bash
# Builds the request-decoder fuzz target with libFuzzer + AddressSanitizer and runs it for N seconds.
# Corpus: fuzz-artifacts/corpus (seeded from the golden fixtures); crashes land in fuzz-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-300}
scratch=.build-fuzz
swift build --scratch-path "$scratch" -c debug --product rampart-fuzz-request \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -DRAMPART_FUZZ
mkdir -p fuzz-artifacts/corpus
if compgen -G "Tests/KafkaProtocolTests/Fixtures/requests/*.bin" >/dev/null; then
  cp -n Tests/KafkaProtocolTests/Fixtures/requests/*.bin fuzz-artifacts/corpus/ 2>/dev/null || true
fi
exec "$scratch/debug/rampart-fuzz-request" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
  -artifact_prefix=fuzz-artifacts/ -print_final_stats=1 fuzz-artifacts/corpus
