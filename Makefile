# Rampart — build, test, run. `make test` is what CI runs (.ci/run).
SWIFT ?= swift
SWIFT_FLAGS ?=
SHARED ?= ../shared
PROTOCOL_SCHEMAS ?= $(SHARED)/kafka-protocol/messages

.PHONY: run all deps venv build build-release test unit-test generate check-generated bench bench-protocol bench-storage fuzz clean

all: build

deps:
	@scripts/install-deps.sh

venv: deps
	@scripts/venv.sh

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

build-release: deps
	$(SWIFT) build -c release $(SWIFT_FLAGS)

## Regenerate Sources/KafkaProtocol/Generated (and the round-trip test support in
## Tests/KafkaProtocolTests/Generated) from Kafka's message schemas.
generate: deps
	$(SWIFT) run kafka-protocol-generator $(PROTOCOL_SCHEMAS) Sources/KafkaProtocol/Generated Tests/KafkaProtocolTests/Generated

## Every test: Swift unit tests (including the generated-code drift check).
test: deps venv
	RAMPART_SCHEMA_DIR=$(abspath $(PROTOCOL_SCHEMAS)) $(SWIFT) build --build-tests -Xswiftc -warnings-as-errors $(SWIFT_FLAGS)
	RAMPART_SCHEMA_DIR=$(abspath $(PROTOCOL_SCHEMAS)) $(SWIFT) test --skip-build $(SWIFT_FLAGS)

## Protocol micro-benchmarks (CRC32C, Produce request decode/encode). Not part of `make test`.
bench-protocol: deps
	$(SWIFT) run -c release rampart-protocol-bench

## Storage benchmark: append/read throughput next to fio on the same disk. BENCH_DIR picks the disk.
BENCH_DIR ?= /tmp
bench-storage: deps
	$(SWIFT) run -c release rampart-storage-bench $(BENCH_DIR)

bench: bench-protocol bench-storage

## libFuzzer over the request decoder; FUZZ_SECONDS (default 300). See docs/fuzzing.md.
FUZZ_SECONDS ?= 300
fuzz: deps
	scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build .build-*

run:
	@echo "make run: the broker is not built yet (issue 4); nothing to start." >&2; exit 1
