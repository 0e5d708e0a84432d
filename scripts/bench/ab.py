#!/usr/bin/env python3
"""A/B of two Rampart binaries (e.g. before and after a change) on the harness's workloads, alternated
in the same run: raw fetch (bare Fetch v4, 1 KiB records, 1 and 8 partitions) and end-to-end latency
(1 KiB, acks=all, 1 partition — or the partition counts of `--latency-partitions` — at a fixed rate). Both brokers use their durable defaults. Prints one
line per run with the 1-minute load average, and the medians at the end.

Usage: .venv-bench/bin/python scripts/bench/ab.py --a OLD --b NEW [--rounds 3] [--only fetch,latency]
       [--rate 90500] [--latency-partitions 1,8] [--ports 19500-19599]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import brokers as B  # noqa: E402
import machine  # noqa: E402
import workloads as W  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

BROKER_CPU, CLIENT_CPU = 0, 1


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", required=True, help="first binary (e.g. before)")
    parser.add_argument("--b", required=True, help="second binary (e.g. after)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="fetch,latency")
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--rate", type=float, default=90_500, help="records/s of the latency run")
    parser.add_argument("--latency-seconds", type=float, default=5.0)
    parser.add_argument("--latency-partitions", default="1", help="partition counts of the latency runs, e.g. 1,8")
    parser.add_argument("--ports", default="19500-19599")
    parser.add_argument("--a-without-policy", action="store_true",
                        help="the first binary predates the authorizer (no rampart.acl.policy.path)")
    args = parser.parse_args()
    low, high = (int(p) for p in args.ports.split("-"))
    original = B.free_port
    B.free_port = lambda: original(low, high + 1)
    only = set(args.only.split(","))
    os.sched_setaffinity(0, {CLIENT_CPU})
    results = {}
    counter = [0]

    def record(label, workload, value, line):
        results.setdefault((workload, label), []).append(value)
        print(f"{label:6} {workload:28} {line}  load {machine.load1():.2f}", flush=True)

    def topic(broker, partitions):
        counter[0] += 1
        name = f"ab-{counter[0]}"
        admin = AdminClient({"bootstrap.servers": broker.bootstrap()})  # kept alive until the result arrives
        admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)
        time.sleep(0.3)
        return name

    with tempfile.TemporaryDirectory(prefix="rampart-ab-") as tmp:
        for round_number in range(args.rounds):
            order = [("A", args.a), ("B", args.b)]
            if round_number % 2:
                order.reverse()
            for label, binary in order:
                allow_all = not (label == "A" and args.a_without_policy)
                broker = B.rampart(binary, Path(tmp), f"{label}{round_number}", label, allow_all=allow_all).start(BROKER_CPU)
                client = {"bootstrap.servers": broker.bootstrap()}
                try:
                    if "fetch" in only:
                        for partitions in (1, 8):
                            name = topic(broker, partitions)
                            W.produce_max(client, name, args.records, 1024, "1")
                            cpu = B.cpu_seconds(broker.pid)
                            outcome = W.raw_fetch("127.0.0.1", broker.listeners["PLAINTEXT"], name, partitions, args.records)
                            cpu = B.cpu_seconds(broker.pid) - cpu
                            seconds = outcome["seconds"] if isinstance(outcome, dict) else outcome
                            mb = args.records * 1024 / 1e6
                            record(label, f"raw fetch 1024 B {partitions}p", mb / seconds,
                                   f"{mb / seconds:8.1f} MB/s  {cpu / (mb / 1000):5.2f} broker CPU-s/GB")
                    if "latency" in only:
                        for partitions in (int(p) for p in args.latency_partitions.split(",")):
                            name = topic(broker, partitions)
                            row = W.end_to_end(client, name, partitions, args.rate, args.latency_seconds, 1024, "all",
                                               cpu=CLIENT_CPU)
                            record(label, f"e2e acks=all {partitions}p {args.rate:.0f}/s", row["p99_ms"],
                                   f"p50 {row['p50_ms']:.2f} p99 {row['p99_ms']:.2f} p99.9 {row['p999_ms']:.2f} "
                                   f"max {row['max_ms']:.2f} ms at {row['rate_achieved']:.0f} rec/s")
                            results.setdefault((f"e2e acks=all {partitions}p p50", label), []).append(row["p50_ms"])
                            results.setdefault((f"e2e acks=all {partitions}p p99.9", label), []).append(row["p999_ms"])
                finally:
                    broker.stop()
    print("\nmedians (MB/s for raw fetch, p99 ms for e2e unless named):")
    for (workload, label), values in sorted(results.items()):
        print(f"  {label} {workload:28} {statistics.median(values):8.2f}  ({', '.join(f'{v:.2f}' for v in values)})")


if __name__ == "__main__":
    main()
