#!/usr/bin/env python3
"""TLS cost benchmark: produce and consume throughput over SSL next to PLAINTEXT on one broker, in the
same run, reported as broker CPU-seconds per GB (from /proc/<pid>/stat) and MB/s.

The load comes from librdkafka (the confluent-kafka wheel): producing and fetching happen in its C
threads. The broker is pinned to CPU 0 and this driver (with librdkafka's threads) to CPU 1 when the
machine has two or more CPUs. Rounds alternate PLAINTEXT/SSL/PLAINTEXT/SSL…; medians are reported.

With `--client rampart` the load comes from `rampart bench produce|consume` (the project's own client,
which fills TLS records to 16 KiB) instead: librdkafka sends its produce requests as TLS records of about
2.2 KB, and the broker's cost per record is part of what this measures.

Usage: scripts/bench_tls.py [--broker .build/release/rampart] [--records 500000] [--record-size 1024]
       [--rounds 3] [--client librdkafka|rampart]
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parent / "bench"))
from brokers import cpu_seconds, make_certificates, memory_mib  # noqa: E402  (the harness's own helpers)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pin(cpu):
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() >= 2:
        os.sched_setaffinity(0, {cpu})


def wait_ready(port, process, log, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"broker exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"broker did not listen on {port}")


def produce(config, topic, records, value):
    producer = Producer({**config, "acks": "1", "linger.ms": 5, "batch.size": 1_000_000,
                         "queue.buffering.max.messages": 1_000_000, "compression.type": "none"})
    for _ in range(records):
        while True:
            try:
                producer.produce(topic, value=value)
                break
            except BufferError:
                producer.poll(0.01)
    remaining = producer.flush(120)
    if remaining:
        raise RuntimeError(f"{remaining} records not delivered")


def consume(config, topic, partitions, records):
    consumer = Consumer({**config, "group.id": f"bench-{topic}", "enable.auto.commit": False,
                         "fetch.max.bytes": 52_428_800, "max.partition.fetch.bytes": 10_485_760,
                         "fetch.wait.max.ms": 10})
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    got = 0
    deadline = time.monotonic() + 300
    while got < records and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=10_000, timeout=1.0):
            if not message.error():
                got += 1
    consumer.close()
    if got < records:
        raise RuntimeError(f"consumed {got} of {records}")


def rampart_client(broker, config, work):
    """produce/consume actions running `rampart bench` (pinned to CPU 1) with the properties `config`."""
    properties = work / f"client-{len(list(work.glob('client-*.properties')))}.properties"
    properties.write_text("".join(f"{key}={value}\n" for key, value in config.items() if key != "bootstrap.servers"))
    taskset = ["taskset", "-c", "1"] if shutil.which("taskset") and (os.cpu_count() or 1) >= 2 else []
    common = ["--bootstrap-server", config["bootstrap.servers"], "--command-config", str(properties), "--json"]

    def run(command):
        result = subprocess.run(taskset + [broker, "bench"] + command + common, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"rampart bench failed: {result.stderr[-2000:]}")

    def produce_with(topic, records, size):
        run(["produce", "--topic", topic, "--num-records", str(records), "--record-size", str(size), "--acks", "1",
             "--producer-props", "batch.size=1000000", "linger.ms=5"])

    def consume_with(topic, records):
        run(["consume", "--topic", topic, "--num-records", str(records), "--timeout-ms", "300000"])

    return produce_with, consume_with


def measure(pid, action, profile=None, call_graph="fp"):
    """Runs `action`; returns its seconds and the broker's CPU-seconds. With `profile` (a path), `perf
    record -g` samples the broker meanwhile into that file (its overhead counts in the CPU figure)."""
    recorder = None
    if profile is not None:
        recorder = subprocess.Popen(["perf", "record", "-q", "--call-graph", call_graph, "-F", "999", "-p", str(pid), "-o", str(profile)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    cpu_before, start = cpu_seconds(pid), time.monotonic()
    try:
        action()
    finally:
        seconds, cpu = time.monotonic() - start, cpu_seconds(pid) - cpu_before
        if recorder is not None:
            recorder.send_signal(signal.SIGINT)
            recorder.wait(60)
    return seconds, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default=".build/release/rampart")
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--record-size", type=int, default=1024)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", default="librdkafka", choices=["librdkafka", "rampart"],
                        help="the load generator: librdkafka (confluent-kafka) or `rampart bench`")
    parser.add_argument("--profile", type=Path,
                        help="a directory: perf samples the broker in each phase into <listener>-<phase>-<round>.data")
    parser.add_argument("--profile-call-graph", default="fp", choices=["fp", "dwarf", "lbr"],
                        help="perf's call-graph method (dwarf attributes time spent in libc and OpenSSL to their callers)")
    args = parser.parse_args()

    if args.profile:
        if not shutil.which("perf"):
            parser.error("--profile needs perf (apt-get install linux-perf)")
        args.profile.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rampart-bench-tls-"))
    broker = None
    try:
        _, _, _, keystore = make_certificates(work)
        plain_port, ssl_port = free_port(), free_port()
        (work / "server.properties").write_text("\n".join([
            f"listeners=PLAINTEXT://127.0.0.1:{plain_port},SSL://127.0.0.1:{ssl_port}",
            "rampart.insecure.allow.plaintext=true",
            f"log.dirs={work / 'data'}",
            f"ssl.keystore.location={keystore}",
            "rampart.log.level=warning",
            "auto.create.topics.enable=false",
            "super.users=User:ANONYMOUS",
        ]) + "\n")
        command = [args.broker, "serve", "--config", str(work / "server.properties")]
        if shutil.which("taskset") and (os.cpu_count() or 1) >= 2:
            command = ["taskset", "-c", "0"] + command
        broker = subprocess.Popen(command, stdout=open(work / "broker.log", "wb"), stderr=subprocess.STDOUT)
        wait_ready(plain_port, broker, work / "broker.log")
        wait_ready(ssl_port, broker, work / "broker.log")
        pin(1)
        configs = {
            "PLAINTEXT": {"bootstrap.servers": f"127.0.0.1:{plain_port}"},
            "SSL": {"bootstrap.servers": f"127.0.0.1:{ssl_port}", "security.protocol": "SSL",
                    "ssl.ca.location": str(work / "ca.pem"), "ssl.endpoint.identification.algorithm": "https"},
        }
        admin = AdminClient(configs["PLAINTEXT"])
        value = os.urandom(args.record_size)
        gigabytes = args.records * args.record_size / 1e9
        results = {(name, phase): [] for name in configs for phase in ("produce", "consume")}
        print(f"# {args.client} client, {args.records} records × {args.record_size} B, {args.partitions} partitions, acks=1, "
              f"{args.rounds} rounds; load average {os.getloadavg()[0]:.2f}", flush=True)
        for round_number in range(args.rounds):
            for name, config in configs.items():
                topic = f"bench-{name.lower()}-{round_number}"
                admin.create_topics([NewTopic(topic, args.partitions, 1)])[topic].result(30)
                profile = (lambda phase: args.profile / f"{name}-{phase}-{round_number + 1}.data") if args.profile else (lambda phase: None)
                if args.client == "rampart":
                    produce_with, consume_with = rampart_client(args.broker, config, work)
                    produce_action = lambda: produce_with(topic, args.records, args.record_size)
                    consume_action = lambda: consume_with(topic, args.records)
                else:
                    produce_action = lambda: produce(config, topic, args.records, value)
                    consume_action = lambda: consume(config, topic, args.partitions, args.records)
                seconds, cpu = measure(broker.pid, produce_action, profile("produce"), args.profile_call_graph)
                results[(name, "produce")].append((gigabytes * 1000 / seconds, cpu / gigabytes))
                print(f"round {round_number + 1} {name:9} produce {gigabytes * 1000 / seconds:8.1f} MB/s "
                      f"{cpu / gigabytes:6.2f} broker CPU-s/GB", flush=True)
                seconds, cpu = measure(broker.pid, consume_action, profile("consume"), args.profile_call_graph)
                results[(name, "consume")].append((gigabytes * 1000 / seconds, cpu / gigabytes))
                print(f"round {round_number + 1} {name:9} consume {gigabytes * 1000 / seconds:8.1f} MB/s "
                      f"{cpu / gigabytes:6.2f} broker CPU-s/GB", flush=True)
                admin.delete_topics([topic])[topic].result(30)
        print()
        print("| phase | listener | MB/s (median) | broker CPU-s/GB (median) | CPU ratio SSL/PLAINTEXT |")
        print("|---|---|---|---|---|")
        for phase in ("produce", "consume"):
            base = statistics.median(c for _, c in results[("PLAINTEXT", phase)])
            for name in configs:
                rate = statistics.median(r for r, _ in results[(name, phase)])
                cpu = statistics.median(c for _, c in results[(name, phase)])
                ratio = f"{cpu / base:.2f}×" if name == "SSL" else ""
                print(f"| {phase} | {name} | {rate:.0f} | {cpu:.2f} | {ratio} |")
        print(f"\nbroker peak RSS {memory_mib(broker.pid)[1]:.0f} MiB; load average {os.getloadavg()[0]:.2f}")
    finally:
        if broker is not None:
            broker.terminate()
            try:
                broker.wait(30)
            except subprocess.TimeoutExpired:
                broker.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
