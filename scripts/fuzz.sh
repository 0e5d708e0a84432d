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
# Seeds: a default-valued request for every API and version, and the golden record batches.
swift build --product rampart-fuzz-request >/dev/null
"$(swift build --show-bin-path)/rampart-fuzz-request" --write-seeds fuzz-artifacts/corpus
cp -n Tests/KafkaProtocolTests/Fixtures/records/*.bin fuzz-artifacts/corpus/ 2>/dev/null || true
exec "$scratch/debug/rampart-fuzz-request" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
  -artifact_prefix=fuzz-artifacts/ -print_final_stats=1 fuzz-artifacts/corpus
