#!/usr/bin/env python3
"""The scale part of issue 8, Rampart next to tansu:

- 1,000 topics × 8 partitions: time to create them (CreateTopics, 100 topics per request), broker RSS
  after, restart time (SIGTERM, start, first answered Metadata; Rampart only: tansu's memory storage
  forgets everything on restart) and the time of a Metadata request for all topics;
- 1,000 idle connections (each has sent ApiVersions) and 200 active producers: aggregate produce rate of
  200 librdkafka producers next to one, and the RSS growth per idle connection. The producers are spread
  over --processes worker processes (spawned, pinned to the generator's CPU, each with its share of the
  Producer instances); the rate is acknowledged records / time from a common start barrier to the last
  delivery, with the generator's and the broker's CPU-seconds over the run to tell which was the limit.

Usage: scripts/bench/scale.py [--topics 1000] [--partitions 8] [--idle 1000] [--producers 200] [--processes 4]
       [--records 200000] [--out FILE] [--no-peer] [--no-load | --no-topics] [--nofile N]

--no-load measures only the topics part (create, RSS, Metadata, restart); --no-topics only the connections
part (one topic for the producers); --no-peer runs Rampart only.
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


PRODUCER_CONFIG = {"acks": "1", "linger.ms": 5, "batch.size": 1_000_000, "enable.idempotence": False}


def _share(total, parts):
    """`total` split into `parts` integers as even as possible."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _producer_worker(bootstrap, topic, records_per_producer, size, cpu, barrier, results):
    """One load-generator process: a Producer per entry of `records_per_producer`, each connected and with
    the topic's metadata before the common barrier; then the records are produced round robin over this
    process's producers and flushed. Puts its start (after the barrier), end (last flush returned, i.e.
    last delivery report), acknowledged and failed counts and CPU-seconds (all threads) on `results`."""
    try:
        if cpu is not None:
            os.sched_setaffinity(0, {cpu})
        failed = [0]

        def on_failure(error, _message):
            if error is not None:
                failed[0] += 1

        # delivery.report.only.error: no Python callback per acknowledged record (it would cost the
        # single-core generator more than librdkafka does); an unacknowledged record is counted.
        stats = {}  # latest librdkafka statistics (JSON text) per producer: Produce requests sent

        def keeper(index):
            def keep(text):
                stats[index] = text
            return keep

        clients = [Producer({"bootstrap.servers": bootstrap, **PRODUCER_CONFIG, "delivery.report.only.error": True,
                             "on_delivery": on_failure, "statistics.interval.ms": 1000, "stats_cb": keeper(i)})
                   for i, _ in enumerate(records_per_producer)]
        for client in clients:  # connect and fetch metadata before the clock starts
            client.list_topics(topic, timeout=60)
        value = os.urandom(size)
        # round robin over this process's producers, each sending its own share
        order = [i for r in range(max(records_per_producer)) for i, n in enumerate(records_per_producer) if r < n]
        barrier.wait(300)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu0 = usage.ru_utime + usage.ru_stime
        start = time.monotonic()
        for n, index in enumerate(order):
            client = clients[index]
            while True:
                try:
                    client.produce(topic, value)
                    break
                except BufferError:
                    client.poll(0.005)
            if n % 10_000 == 0:
                for c in clients:
                    c.poll(0)
        unflushed = sum(client.flush(120) for client in clients)
        end = time.monotonic()
        busy_end = machine.busy_seconds()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        # after the clock stopped: wait for one more statistics report from every producer (interval 1 s)
        stats.clear()
        deadline = time.monotonic() + 3
        while len(stats) < len(clients) and time.monotonic() < deadline:
            for client in clients:
                client.poll(0.01)
        produce_requests = sum(broker.get("req", {}).get("Produce", 0)
                               for text in stats.values() for broker in json.loads(text)["brokers"].values())
        sent = len(order)
        results.put({"start": start, "end": end, "sent": sent, "acked": sent - failed[0] - unflushed,
                     "failed": failed[0], "unflushed": unflushed, "produce_requests": produce_requests,
                     "stats_reports": len(stats), "busy_end": busy_end, "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu0})
    except BaseException as error:  # noqa: BLE001 - the parent reports it
        barrier.abort()
        results.put({"error": repr(error)})


def produce_rate(bootstrap, producers, records, processes=4, size=1024, topic="scale-00000", cpu=1, broker_pid=None):
    """Aggregate rate of `producers` librdkafka producers sharing `records` records, spread over
    min(`processes`, `producers`) worker processes pinned to `cpu` (the load generator's core). Every
    producer connects and fetches metadata first; the clock runs from the common start barrier (the
    earliest worker's start) to the last delivery report (the latest flush), and the rate counts
    acknowledged records only. Returns a dict: records_per_second, seconds, acked, failed, generator and
    broker CPU-seconds over the run, and the 1-minute load average after it."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # no librdkafka state inherited through fork
    workers = min(processes, producers)
    per_producer = _share(records, producers)
    counts = _share(producers, workers)
    barrier = context.Barrier(workers + 1)
    results = context.Queue()
    jobs = []
    first = 0
    for count in counts:
        job = context.Process(target=_producer_worker, daemon=True,
                              args=(bootstrap, topic, per_producer[first:first + count], size, cpu, barrier, results))
        first += count
        job.start()
        jobs.append(job)
    try:
        barrier.wait(300)
    except Exception:  # noqa: BLE001 - a worker failed during setup: its error is on the queue
        pass
    broker_cpu0 = B.cpu_seconds(broker_pid) if broker_pid else None
    busy0 = machine.busy_seconds()
    reports = [results.get(timeout=600) for _ in jobs]
    broker_cpu = B.cpu_seconds(broker_pid) - broker_cpu0 if broker_pid else None
    for job in jobs:
        job.join(30)
    errors = [r["error"] for r in reports if "error" in r]
    if errors:
        raise RuntimeError(f"load generator failed: {errors[0]}")
    start = min(r["start"] for r in reports)
    seconds = max(r["end"] for r in reports) - start
    acked = sum(r["acked"] for r in reports)
    failed = sum(r["failed"] + r["unflushed"] for r in reports)
    requests = sum(r["produce_requests"] for r in reports)
    generator_cpu = sum(r["cpu_seconds"] for r in reports)
    # every other process on the machine (other engineers' builds) over the run, in cores
    busy = max(reports, key=lambda r: r["end"])["busy_end"] - busy0
    others = max(0.0, (busy - generator_cpu - (broker_cpu or 0.0)) / seconds)
    if sum(r["stats_reports"] for r in reports) < producers:
        requests = None  # some producer sent no statistics after the run: the count would be short
    return {"records_per_second": acked / seconds, "seconds": seconds, "acked": acked, "failed": failed,
            "produce_requests": requests,
            "processes": workers, "generator_cpu_seconds": generator_cpu, "others_cores": others,
            "broker_cpu_seconds": broker_cpu, "load1_after": machine.load1()}


def describe_run(run):
    """One line: rate, wall time, generator and broker cores over the run, load average after it."""
    text = (f"{run['records_per_second']:.0f} rec/s ({run['acked']} acknowledged in {run['seconds']:.2f} s, "
            f"{run['processes']} process(es); generator {run['generator_cpu_seconds'] / run['seconds']:.2f} cores")
    if run["broker_cpu_seconds"] is not None:
        text += f", broker {run['broker_cpu_seconds'] / run['seconds']:.2f} cores"
        if run["produce_requests"]:
            text += (f"; {run['produce_requests']} Produce requests, {run['acked'] / run['produce_requests']:.1f} "
                     f"records each, broker {run['broker_cpu_seconds'] / run['produce_requests'] * 1e6:.1f} µs per request")
    if run["failed"]:
        text += f"; {run['failed']} NOT acknowledged"
    return text + f"; other processes {run['others_cores']:.2f} cores; load {run['load1_after']:.2f})"


def scale(broker, args, log, restartable):
    result = {"broker": broker.name}
    rss0, _ = B.memory_mib(broker.pid)
    if args.no_topics:
        # only the topic the producers write to (same partition count as the topics part)
        result["create_seconds"] = create_topics(broker.bootstrap(), 1, args.partitions, log=lambda line: None)
        result["rss_empty_mib"] = rss0
    else:
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
    if restartable and not args.no_topics:
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
    single = produce_rate(broker.bootstrap(), 1, args.records, processes=1, broker_pid=broker.pid)
    log(f"{broker.name}: 1 producer, no idle connections: {describe_run(single)}")
    before = B.memory_mib(broker.pid)[0]
    sockets = idle_connections(broker.listeners["PLAINTEXT"], args.idle)
    time.sleep(1)
    after = B.memory_mib(broker.pid)[0]
    per_idle = (after - before) * 1024 / args.idle if args.idle else 0.0
    log(f"{broker.name}: {args.idle} idle connections open: RSS {before:.1f} → {after:.1f} MiB, "
        f"+{per_idle:.1f} KiB per connection; load {machine.load1():.2f}")
    many = produce_rate(broker.bootstrap(), args.producers, args.records, processes=args.processes,
                        broker_pid=broker.pid)
    log(f"{broker.name}: {args.producers} producers with the {args.idle} idle connections open: {describe_run(many)}")
    broker.check()
    for sock in sockets:
        sock.close()
    ratio = many["records_per_second"] / single["records_per_second"]
    result.update({"single_producer_rps": single["records_per_second"], "many_producers_rps": many["records_per_second"],
                   "many_to_single": ratio, "single_run": single, "many_run": many, "idle": args.idle,
                   "producers": args.producers, "processes": many["processes"],
                   "rss_per_idle_connection_kib": per_idle})
    log(f"{broker.name}: {args.producers} producers / 1 producer = {ratio:.2f}× (issue 8 asks ≥ 0.80×)")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default=str(ROOT / ".build/release/rampart"))
    parser.add_argument("--topics", type=int, default=1000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--producers", type=int, default=200)
    parser.add_argument("--records", type=int, default=200_000, help="records per produce run (shared by the producers)")
    parser.add_argument("--processes", type=int, default=4,
                        help="load-generator processes the producers are spread over (all on the generator's CPU)")
    parser.add_argument("--nofile", type=int, default=65536, help="RLIMIT_NOFILE for the brokers")
    parser.add_argument("--out", default=str(ROOT / ".bench" / "scale.json"))
    parser.add_argument("--no-peer", action="store_true", help="Rampart only")
    parser.add_argument("--no-load", action="store_true", help="only the topics part (no idle connections, no producers)")
    parser.add_argument("--no-topics", action="store_true",
                        help="only the connections part: one topic for the producers, no restart or Metadata timing")
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
