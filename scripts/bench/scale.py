#!/usr/bin/env python3
"""The scale part of issue 8, Rampart next to tansu:

- 1,000 topics × 8 partitions: time to create them (CreateTopics, 100 topics per request), broker RSS
  after, restart time (SIGTERM, start, first answered Metadata; Rampart only: tansu's memory storage
  forgets everything on restart) and the time of a Metadata request for all topics;
- 1,000 idle connections (each has sent ApiVersions) and 200 active producers: aggregate produce rate of
  200 librdkafka producers next to one, and the RSS growth per idle connection.

Usage: scripts/bench/scale.py [--topics 1000] [--partitions 8] [--idle 1000] [--producers 200] [--out FILE]
       [--no-peer] [--no-load] [--nofile N]

--no-load measures only the topics part (create, RSS, Metadata, restart); --no-peer runs Rampart only.
"""
import argparse
import json
import os
import resource
import socket
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import brokers as B  # noqa: E402
import machine  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def recv_exact(sock, count):
    data = bytearray()
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise RuntimeError("connection closed")
        data += chunk
    return bytes(data)


def request(sock, api_key, version, correlation, body=b""):
    header = struct.pack(">hhih", api_key, version, correlation, 5) + b"scale"
    sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
    (size,) = struct.unpack(">i", recv_exact(sock, 4))
    return recv_exact(sock, size)


def metadata_all_seconds(port, repeats=5):
    """Median time of a Metadata v1 request for every topic (null topic array), on one connection."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    times = []
    size = 0
    for i in range(repeats):
        start = time.monotonic()
        size = len(request(sock, 3, 1, i + 1, struct.pack(">i", -1)))
        times.append(time.monotonic() - start)
    sock.close()
    return statistics.median(times), size


def create_topics(bootstrap, count, partitions, per_request=100, log=print):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    start = time.monotonic()
    for first in range(0, count, per_request):
        names = [f"scale-{i:05d}" for i in range(first, min(count, first + per_request))]
        futures = admin.create_topics([NewTopic(n, partitions, 1) for n in names], request_timeout=120)
        for name, future in futures.items():
            try:
                future.result(120)
            except Exception as error:  # noqa: BLE001 - report the broker's answer (e.g. the descriptor limit)
                raise RuntimeError(f"creating {name} failed after {time.monotonic() - start:.1f} s: {error}") from error
        log(f"  {min(count, first + per_request)} topics after {time.monotonic() - start:.1f} s")
    return time.monotonic() - start


def idle_connections(port, count):
    sockets = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port))
        request(sock, 18, 0, i + 1)  # ApiVersions v0
        sockets.append(sock)
    return sockets


def produce_rate(bootstrap, producers, records, size=1024, topic="scale-00000"):
    """Aggregate records/s of `producers` librdkafka producers sharing `records` records, driven round robin."""
    clients = [Producer({"bootstrap.servers": bootstrap, "acks": "1", "linger.ms": 5, "batch.size": 1_000_000,
                         "enable.idempotence": False}) for _ in range(producers)]
    for client in clients:  # connect and fetch metadata before the clock starts
        client.list_topics(topic, timeout=30)
    value = os.urandom(size)
    start = time.monotonic()
    for i in range(records):
        client = clients[i % producers]
        while True:
            try:
                client.produce(topic, value)
                break
            except BufferError:
                client.poll(0.005)
        if i % 10_000 == 0:
            for c in clients:
                c.poll(0)
    for client in clients:
        if client.flush(120):
            raise RuntimeError("records not delivered")
    return records / (time.monotonic() - start)


def scale(broker, args, log, restartable):
    result = {"broker": broker.name}
    rss0, _ = B.memory_mib(broker.pid)
    result["create_seconds"] = create_topics(broker.bootstrap(), args.topics, args.partitions,
                                             log=lambda line: print(line, flush=True))
    result["open_fds"] = len(os.listdir(f"/proc/{broker.pid}/fd"))
    time.sleep(1)
    result["rss_empty_mib"] = rss0
    result["rss_topics_mib"] = B.memory_mib(broker.pid)[0]
    result["metadata_seconds"], result["metadata_bytes"] = metadata_all_seconds(broker.listeners["PLAINTEXT"])
    log(f"{broker.name}: created {args.topics}×{args.partitions} in {result['create_seconds']:.1f} s; RSS "
        f"{rss0:.0f} → {result['rss_topics_mib']:.0f} MiB; Metadata(all) {result['metadata_seconds'] * 1000:.1f} ms "
        f"({result['metadata_bytes']} bytes); {result['open_fds']} descriptors open; load {machine.load1():.2f}")
    if restartable:
        broker.stop()
        start = time.monotonic()
        broker.start(0)
        AdminClient({"bootstrap.servers": broker.bootstrap()}).list_topics(timeout=60)
        result["restart_seconds"] = time.monotonic() - start
        result["rss_after_restart_mib"] = B.memory_mib(broker.pid)[0]
        log(f"{broker.name}: restart to first Metadata answer {result['restart_seconds']:.2f} s, "
            f"RSS {result['rss_after_restart_mib']:.0f} MiB, {len(os.listdir(f'/proc/{broker.pid}/fd'))} descriptors open")
    if args.no_load:
        return result
    single = produce_rate(broker.bootstrap(), 1, args.records)
    before = B.memory_mib(broker.pid)[0]
    sockets = idle_connections(broker.listeners["PLAINTEXT"], args.idle)
    time.sleep(1)
    after = B.memory_mib(broker.pid)[0]
    many = produce_rate(broker.bootstrap(), args.producers, args.records)
    for sock in sockets:
        sock.close()
    result.update({"single_producer_rps": single, "many_producers_rps": many, "idle": args.idle,
                   "producers": args.producers, "rss_per_idle_connection_kib": (after - before) * 1024 / args.idle})
    log(f"{broker.name}: 1 producer {single:.0f} rec/s; {args.producers} producers with {args.idle} idle "
        f"connections open {many:.0f} rec/s ({many / single:.2f}×); RSS +{(after - before) * 1024 / args.idle:.1f} "
        f"KiB per idle connection; load {machine.load1():.2f}")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default=str(ROOT / ".build/release/rampart"))
    parser.add_argument("--topics", type=int, default=1000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--producers", type=int, default=200)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--nofile", type=int, default=65536, help="RLIMIT_NOFILE for the brokers")
    parser.add_argument("--out", default=str(ROOT / ".bench" / "scale.json"))
    parser.add_argument("--no-peer", action="store_true", help="Rampart only")
    parser.add_argument("--no-load", action="store_true", help="only the topics part (no idle connections, no producers)")
    args = parser.parse_args()
    # The brokers inherit this limit: Rampart keeps one descriptor per segment (an empty partition: 1) plus
    # one per connection, and refuses partitions that would eat into its reserve (a tenth of the limit).
    # Raise it (root may go past the hard limit), or fall back to the hard limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.nofile, max(hard, args.nofile)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = Path(tempfile.mkdtemp(prefix="rampart-scale-"))
    lines = []

    def log(line):
        print(line, flush=True)
        lines.append(line)

    log(f"# load average {machine.load1():.2f}; RLIMIT_NOFILE {resource.getrlimit(resource.RLIMIT_NOFILE)}")
    results = []
    rampart = B.rampart(args.broker, work, "rampart", "Rampart (durable defaults)",
                        extra=["num.partitions=8", "rampart.authorizer.enabled=false"])
    runs = [(rampart, True)]
    if not args.no_peer:
        runs.append((B.tansu(B.tansu_binary(ROOT / ".venv-bench"), work), False))
    os.sched_setaffinity(0, {1})
    for broker, restartable in runs:
        broker.start(0)
        try:
            results.append(scale(broker, args, log, restartable))
        finally:
            broker.stop()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "results": results, "log": lines}, indent=1))
    print(f"results: {out}")


if __name__ == "__main__":
    sys.exit(main())
