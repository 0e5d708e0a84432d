#!/usr/bin/env bash
# Runs librdkafka's own test suite (from Debian's source package, librdkafka 2.0.2) against a Rampart
# broker started here. `quick` runs Tests/librdkafka/quick.txt, `full` Tests/librdkafka/allowlist.txt;
# each test listed must pass. Excluded tests and why: Tests/librdkafka/findings.md.
#
# The source is fetched with `apt-get source` (a deb-src entry is added under /etc/apt/sources.list.d)
# and built once into .build-librdkafka/ (kept between runs).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mode=${1:-quick}
case "$mode" in
  quick) list=Tests/librdkafka/quick.txt ;;
  full) list=Tests/librdkafka/allowlist.txt ;;
  *) echo "usage: $0 quick|full" >&2; exit 2 ;;
esac

work=$root/.build-librdkafka
src=$work/librdkafka-2.0.2
runner=$src/tests/test-runner

if [ ! -x "$runner" ]; then
  if [ ! -d "$src" ]; then
    if [ "$(id -u)" -eq 0 ]; then
      if ! grep -rqs "deb-src" /etc/apt/sources.list.d/ /etc/apt/sources.list 2>/dev/null && \
         ! grep -rqs "Types: deb-src" /etc/apt/sources.list.d/ 2>/dev/null; then
        cat > /etc/apt/sources.list.d/rampart-deb-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
      fi
      dpkg-query -W -f='${Status}' dpkg-dev 2>/dev/null | grep -q "install ok installed" || {
        apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpkg-dev g++ >/dev/null; }
      apt-get update -qq
    fi
    mkdir -p "$work"
    (cd "$work" && apt-get source -qq librdkafka=2.0.2-1 >/dev/null 2>&1 || apt-get source -qq librdkafka >/dev/null)
  fi
  echo "building librdkafka 2.0.2 and its test runner (once)…"
  (cd "$src" && ./configure --disable-gssapi >"$work/configure.log" 2>&1 \
     && make -j"$(nproc)" libs >"$work/make.log" 2>&1 \
     && make -C tests -j"$(nproc)" test-runner >"$work/tests-make.log" 2>&1) \
    || { echo "librdkafka build failed; see $work/*.log" >&2; exit 1; }
fi

bin=${RAMPART_BIN:-$root/.build/debug/rampart}
[ -x "$bin" ] || { echo "no broker binary at $bin (run swift build)" >&2; exit 1; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
data=$(mktemp -d /tmp/rampart-rdkafka-XXXXXX)
cat >"$data/server.properties" <<CONF
listeners=PLAINTEXT://127.0.0.1:$port
rampart.insecure.allow.plaintext=true
log.dirs=$data/logs
num.partitions=4
group.initial.rebalance.delay.ms=3000
offsets.topic.num.partitions=4
super.users=User:ANONYMOUS
CONF
"$bin" serve --config "$data/server.properties" >"$data/broker.log" 2>&1 &
broker=$!
cleanup() {
  kill -TERM "$broker" 2>/dev/null || true
  wait "$broker" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break
  sleep 0.1
done

cd "$src/tests"
echo "bootstrap.servers=127.0.0.1:$port" > test.conf
export LD_LIBRARY_PATH=$src/src:$src/src-cpp
export TEST_KAFKA_VERSION=3.4.0
passed=0; failed=0; failures=()
while read -r test _; do
  case "$test" in ""|\#*) continue ;; esac
  if TESTS=$test timeout 300 ./test-runner -Q -E -L -p1 >"$data/$test.log" 2>&1; then
    passed=$((passed + 1)); echo "PASS $test"
  else
    failed=$((failed + 1)); failures+=("$test"); echo "FAIL $test (log below)"; tail -20 "$data/$test.log"
  fi
done < "$root/$list"
echo "librdkafka $mode: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
