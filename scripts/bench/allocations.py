#!/usr/bin/env python3
"""Heap allocations of the broker per produced and per fetched record batch, as the records per batch
grow (issue 8: no per-record allocation on the produce and fetch paths).

Counts calls to malloc, calloc, realloc and posix_memalign in the broker process with `perf stat` on
uprobes of libc (needs root and linux-perf: `scripts/install-deps.sh linux-perf`). For each batch size N
it produces B batches of exactly N records (N records, then flush: one Produce request holding one
batch), then reads them back with bare Fetch requests of one batch each, and divides the calls counted
during each phase by B.

Usage: scripts/bench/allocations.py [--broker .build/release/rampart] [--batches 200] [--sizes 1,10,100,1000]
"""
import argparse
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import brokers as B  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
FUNCTIONS = ("malloc", "calloc", "realloc", "posix_memalign")


def add_probes():
    existing = subprocess.run(["perf", "probe", "-l"], capture_output=True, text=True).stdout
    for name in FUNCTIONS:
        if f"probe_libc:{name} " not in existing and f"probe_libc:{name}\t" not in existing:
            subprocess.run(["perf", "probe", "-q", "-x", LIBC, "--add", name], check=True)


def count(pid, action):
    events = ",".join(f"probe_libc:{name}" for name in FUNCTIONS)
    perf = subprocess.Popen(["perf", "stat", "-x", ",", "-e", events, "-p", str(pid)],
                            stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    action()
    time.sleep(0.2)
    perf.send_signal(signal.SIGINT)
    _, err = perf.communicate(30)
    total = 0
    for line in err.splitlines():
        match = re.match(r"^(\d+),", line)
        if match:
            total += int(match.group(1))
    return total


def fetch_one_batch_each(port, topic, batches):
    """Fetch v4 from offset 0, one batch per request (partition max bytes 1: Kafka returns the first batch)."""
    sock = socket.create_connection(("127.0.0.1", port))
    offset, name = 0, topic.encode()
    for correlation in range(1, batches + 1):
        body = struct.pack(">hhih", 1, 4, correlation, 5) + b"alloc"
        body += struct.pack(">iiiibi", -1, 0, 1, 1, 0, 1) + struct.pack(">h", len(name)) + name
        body += struct.pack(">i", 1) + struct.pack(">iqi", 0, offset, 1)
        sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", sock.recv(4, socket.MSG_WAITALL))[0]
        data = sock.recv(size, socket.MSG_WAITALL)
        pos = 8 + 4 + 2 + len(name) + 4 + 4 + 2 + 8 + 8
        (aborted,) = struct.unpack_from(">i", data, pos)
        pos += 4 + max(0, aborted) * 16 + 4
        base, = struct.unpack_from(">q", data, pos)
        delta, = struct.unpack_from(">i", data, pos + 23)
        offset = base + delta + 1
    sock.close()
    return offset


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default=str(ROOT / ".build/release/rampart"))
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--sizes", default="1,10,100,1000")
    parser.add_argument("--record-size", type=int, default=100)
    args = parser.parse_args()
    add_probes()
    work = Path(tempfile.mkdtemp(prefix="rampart-alloc-"))
    broker = B.rampart(args.broker, work, "rampart", "Rampart").start(0)
    try:
        bootstrap = broker.bootstrap()
        admin = AdminClient({"bootstrap.servers": bootstrap})
        print("| records per batch | allocations per produced batch | per fetched batch |")
        print("|---|---|---|")
        for n in (int(x) for x in args.sizes.split(",")):
            topic = f"alloc-{n}"
            admin.create_topics([NewTopic(topic, 1, 1)])[topic].result(30)
            producer = Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 1000,
                                 "batch.num.messages": n, "batch.size": 10_000_000, "enable.idempotence": False})
            value = os.urandom(args.record_size)
            producer.produce(topic, value)  # connect and warm up outside the count
            producer.flush(30)

            def produce():
                for _ in range(args.batches):
                    for _ in range(n):
                        producer.produce(topic, value)
                    producer.flush(30)

            produced = count(broker.pid, produce)
            fetched = count(broker.pid, lambda: fetch_one_batch_each(broker.listeners["PLAINTEXT"], topic,
                                                                     args.batches + 1))
            print(f"| {n} | {produced / args.batches:.1f} | {fetched / (args.batches + 1):.1f} |", flush=True)
    finally:
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
