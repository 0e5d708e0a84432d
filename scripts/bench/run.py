#!/usr/bin/env python3
"""Rampart side by side with tansu (a Kafka-compatible broker in Rust, memory storage), issue 8.

Brokers, all on loopback and pinned to CPU 0 (`taskset`): Rampart with its durable defaults (an fsync
before every acks=all answer), Rampart with `rampart.flush.on.ack.all=false` (acks=all answered once the
batch is in the page cache, as Kafka does by default), and tansu. The load generator (librdkafka through
confluent-kafka, and `rampart bench` for the project's own client) runs pinned to CPU 1.

Rounds alternate the brokers (A/B/C, then C/B/A, …); before each run the driver waits until processes
other than ours use little CPU, and records the load average and the others' CPU share with every run.
Raw results go to a JSON file; scripts/bench/report.py turns them into the table and the chart.

Usage: scripts/bench/run.py [--rounds 3] [--quick] [--out results.json] [--only produce,consume,latency,ssl,client]
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import brokers as B  # noqa: E402
import machine  # noqa: E402
import workloads as W  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BROKER_CPU, CLIENT_CPU = 0, 1


def produce_workloads(quick):
    scale = 10 if quick else 1
    out = []
    for size, records in ((1024, 300_000 // scale), (100, 1_000_000 // scale)):
        for acks in ("1", "all"):
            for partitions in (1, 8):
                out.append({"kind": "produce", "name": f"produce {size} B acks={acks} {partitions}p",
                            "size": size, "acks": acks, "partitions": partitions, "records": records})
    return out


class Bench:
    def __init__(self, args, work):
        self.args = args
        self.work = work
        self.results = []
        self.counter = 0
        self.log_lines = []

    def log(self, line):
        print(line, flush=True)
        self.log_lines.append(line)

    def topic(self, broker, partitions):
        self.counter += 1
        name = f"bench-{self.counter}"
        admin = AdminClient({"bootstrap.servers": broker.bootstrap()})
        admin.create_topics([NewTopic(name, partitions, 1)])[name].result(30)
        time.sleep(0.3)  # let metadata settle before the clock starts
        return name

    def delete(self, broker, name):
        admin = AdminClient({"bootstrap.servers": broker.bootstrap()})
        try:
            admin.delete_topics([name])[name].result(30)
        except Exception as error:  # tansu's memory engine may not delete: record and go on
            self.log(f"  (delete {name} on {broker.name}: {error})")

    def measure(self, broker, workload, round_number, action, payload_bytes, extra_pids=()):
        """Runs `action` once the machine is quiet; a run during which other processes used more than
        --max-others cores is thrown away and run again (at most --retries times, then kept and flagged)."""
        for attempt in range(1, self.args.retries + 2):
            load, others_before, quiet = machine.wait_quiet([b.pid for b in self.brokers] + [os.getpid()],
                                                            patience=self.args.patience, log=self.log)
            broker.check()
            window = machine.Window([p.pid for p in self.brokers] + [os.getpid(), *extra_pids])
            cpu_before = B.cpu_seconds(broker.pid)
            client_before = machine.own_seconds(os.getpid())
            start = time.monotonic()
            outcome = action()
            wall = time.monotonic() - start
            cpu = B.cpu_seconds(broker.pid) - cpu_before
            broker.check()
            others = window.others_cores()
            # This driver's CPU (librdkafka's threads, waited-for children such as `rampart bench`): near 1
            # core means the load generator, not the broker, set the pace.
            client_cores = (machine.own_seconds(os.getpid()) - client_before) / wall
            if others <= self.args.max_others or attempt > self.args.retries:
                break
            self.log(f"  disturbed: other processes used {others:.2f} cores during {workload['name']} on "
                     f"{broker.name}; measuring again")
        rss, peak = B.memory_mib(broker.pid)
        seconds = outcome.pop("seconds", wall) if isinstance(outcome, dict) else outcome
        row = {"broker": broker.name, "label": broker.label, "workload": workload["name"], "kind": workload["kind"],
               "round": round_number, "seconds": seconds, "broker_cpu_s": cpu,
               "cpu_s_per_gb": cpu / (payload_bytes / 1e9) if payload_bytes else None,
               "rss_mib": rss, "peak_rss_mib": peak, "load1": machine.load1(), "load1_before": load,
               "others_cores": others, "client_cores": client_cores, "quiet_before": quiet, "attempts": attempt,
               "disturbed": others > self.args.max_others, **{k: v for k, v in workload.items() if k not in ("kind", "name")}}
        if payload_bytes:
            row["mb_per_s"] = payload_bytes / 1e6 / seconds
            row["records_per_s"] = workload.get("records", 0) / seconds
        if isinstance(outcome, dict):
            row.update(outcome)
        self.results.append(row)
        figures = (f"{row['mb_per_s']:8.1f} MB/s {row['records_per_s']:10.0f} rec/s {row['cpu_s_per_gb']:6.2f} CPU-s/GB"
                   if payload_bytes else
                   f"p50 {row['p50_ms']:.2f} p99 {row['p99_ms']:.2f} p99.9 {row['p999_ms']:.2f} ms at "
                   f"{row['rate_achieved']:.0f}/{row['rate_target']:.0f} rec/s")
        self.log(f"r{round_number} {broker.name:15} {workload['name']:34} {figures}  rss {rss:.0f} MiB  "
                 f"client {client_cores:.2f}  load {row['load1']:.2f}  others {others:.2f} cores")
        return row

    def order(self, candidates, round_number):
        return candidates if round_number % 2 == 0 else list(reversed(candidates))

    def run(self):
        args = self.args
        certs = B.make_certificates(self.work)
        ca, certificate, key, keystore = certs
        self.ca = ca
        durable = B.rampart(args.broker, self.work, "rampart", "Rampart (durable defaults: fsync per acks=all batch)",
                            tls=keystore)
        nofsync = B.rampart(args.broker, self.work, "rampart-nofsync", "Rampart (rampart.flush.on.ack.all=false)",
                            flush_on_ack_all=False)
        peer = B.tansu(B.tansu_binary(ROOT / ".venv-bench"), self.work)
        self.brokers = [durable, nofsync, peer]
        for broker in self.brokers:
            broker.start(BROKER_CPU)
        os.sched_setaffinity(0, {CLIENT_CPU})
        only = set(args.only.split(","))
        load, others, quiet = machine.wait_quiet([b.pid for b in self.brokers] + [os.getpid()], max_load=1.5,
                                                 patience=args.patience, log=self.log)
        self.log(f"# start: load average {load:.2f}, other processes {others:.2f} cores, quiet={quiet}")
        for round_number in range(1, args.rounds + 1):
            if "produce" in only or "consume" in only:
                for workload in produce_workloads(args.quick):
                    # acks=1 never waits for an fsync, so the no-fsync broker only runs the acks=all workloads.
                    candidates = [durable, peer] if workload["acks"] == "1" else [durable, nofsync, peer]
                    for broker in self.order(candidates, round_number):
                        self.produce_then_consume(broker, workload, round_number, "consume" in only and workload["acks"] == "1")
            if "ssl" in only:
                self.ssl_round(durable, round_number)
            if "client" in only:
                self.client_round([durable, peer], round_number)
        if "latency" in only:
            self.latency(durable, nofsync, peer)
        for broker in self.brokers:
            rss, peak = B.memory_mib(broker.pid)
            self.log(f"# {broker.name}: peak RSS {peak:.0f} MiB, RSS now {rss:.0f} MiB, "
                     f"CPU {B.cpu_seconds(broker.pid):.1f} s in all")
            self.results.append({"kind": "memory", "broker": broker.name, "label": broker.label,
                                 "peak_rss_mib": peak, "rss_mib": rss})

    def produce_then_consume(self, broker, workload, round_number, consume, listener="PLAINTEXT", suffix=""):
        client = self.client(broker, listener)
        topic = self.topic(broker, workload["partitions"])
        payload = workload["records"] * workload["size"]
        named = {**workload, "name": workload["name"] + suffix}
        self.measure(broker, named, round_number, lambda: W.produce_max(
            client, topic, workload["records"], workload["size"], workload["acks"]), payload)
        if consume:
            reader = {**named, "kind": "consume", "name": named["name"].replace("produce", "consume").replace(" acks=1", "")}
            self.measure(broker, reader, round_number, lambda: W.consume_all(
                client, topic, workload["partitions"], workload["records"]), payload)
            if listener == "PLAINTEXT":
                raw = {**reader, "name": reader["name"].replace("consume", "raw fetch")}
                self.measure(broker, raw, round_number, lambda: W.raw_fetch(
                    "127.0.0.1", broker.listeners["PLAINTEXT"], topic, workload["partitions"], workload["records"]), payload)
        self.delete(broker, topic)

    def client(self, broker, listener="PLAINTEXT"):
        config = {"bootstrap.servers": broker.bootstrap(listener)}
        if listener == "SSL":
            config.update({"security.protocol": "SSL", "ssl.ca.location": str(self.ca),
                           "ssl.endpoint.identification.algorithm": "https"})
        return config

    def ssl_round(self, durable, round_number):
        records = 300_000 // (10 if self.args.quick else 1)
        workload = {"kind": "produce", "name": "produce 1024 B acks=1 8p", "size": 1024, "acks": "1",
                    "partitions": 8, "records": records}
        for listener in self.order(["PLAINTEXT", "SSL"], round_number):
            self.produce_then_consume(durable, workload, round_number, True, listener=listener, suffix=f" {listener}")

    def client_round(self, candidates, round_number):
        """The project's client as the load generator: `rampart bench produce` / `consume`."""
        records = 300_000 // (10 if self.args.quick else 1)
        for broker in self.order(candidates, round_number):
            topic = self.topic(broker, 8)
            base = {"size": 1024, "acks": "1", "partitions": 8, "records": records}
            command = B.taskset_prefix(CLIENT_CPU) + [str(Path(self.args.broker).resolve()), "bench", "produce",
                                                      "--bootstrap-server", broker.bootstrap(), "--topic", topic,
                                                      "--num-records", str(records), "--record-size", "1024",
                                                      "--throughput", "-1", "--acks", "1", "--json",
                                                      "--producer-props", "batch.size=1000000", "linger.ms=5"]

            def run(cmd):
                output = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=600).stdout
                data = json.loads(output.strip().splitlines()[-1])
                return {"seconds": data["seconds"], "client_p99_ms": data.get("p99_ms")}

            self.measure(broker, {**base, "kind": "produce", "name": "rampart bench produce 1024 B acks=1 8p"},
                         round_number, lambda: run(command), records * 1024)
            consume = B.taskset_prefix(CLIENT_CPU) + [str(Path(self.args.broker).resolve()), "bench", "consume",
                                                      "--bootstrap-server", broker.bootstrap(), "--topic", topic,
                                                      "--num-records", str(records), "--json"]
            self.measure(broker, {**base, "kind": "consume", "name": "rampart bench consume 1024 B 8p"},
                         round_number, lambda: run(consume), records * 1024)
            self.delete(broker, topic)

    def latency(self, durable, nofsync, peer):
        """End-to-end latency at 10/50/80 % of Rampart's (durable) maximum for 1 KiB, acks=all, 1 partition."""
        maxima = [r["records_per_s"] for r in self.results
                  if r["broker"] == "rampart" and r["workload"] == "produce 1024 B acks=all 1p"]
        if self.args.max_rate:
            maxima = [self.args.max_rate]
        if not maxima:
            self.log("# no acks=all maximum measured: latency skipped (run with produce)")
            return
        maximum = statistics.median(maxima)
        self.log(f"# end-to-end latency at fractions of Rampart's median maximum {maximum:.0f} records/s")
        for round_number in range(1, self.args.rounds + 1):
            for fraction in (0.1, 0.5, 0.8):
                rate = maximum * fraction
                workload = {"kind": "latency", "name": f"e2e 1024 B acks=all 1p at {int(fraction * 100)}%",
                            "size": 1024, "acks": "all", "partitions": 1, "fraction": fraction}
                for broker in self.order([durable, nofsync, peer], round_number):
                    self.measure(broker, workload, round_number, lambda: self.end_to_end(broker, rate), 0)

    def end_to_end(self, broker, rate):
        topic = self.topic(broker, 1)  # a fresh topic per attempt: the consumer reads from offset 0
        try:
            return W.end_to_end(self.client(broker), topic, 1, rate, self.args.latency_seconds, 1024, "all",
                                cpu=CLIENT_CPU)
        finally:
            self.delete(broker, topic)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", default=str(ROOT / ".build/release/rampart"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a tenth of the records (a smoke test, not figures)")
    parser.add_argument("--only", default="produce,consume,ssl,client,latency")
    parser.add_argument("--max-rate", type=float, help="the maximum the latency rates are fractions of "
                        "(default: the median measured for Rampart, 1 KiB, acks=all, 1 partition)")
    parser.add_argument("--latency-seconds", type=float, default=5.0)
    parser.add_argument("--patience", type=float, default=120, help="seconds to wait for a quiet machine per run")
    parser.add_argument("--max-others", type=float, default=0.5,
                        help="a run during which other processes used more cores than this is measured again")
    parser.add_argument("--retries", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / ".bench" / "results.json"))
    args = parser.parse_args()
    # SIGTERM ends the run like Ctrl-C, so that the brokers are stopped and the results written.
    def interrupted(*_):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, interrupted)
    work = Path(tempfile.mkdtemp(prefix="rampart-bench-"))
    bench = Bench(args, work)
    started = datetime.datetime.now(datetime.timezone.utc)
    try:
        bench.run()
    finally:
        for broker in getattr(bench, "brokers", []):
            broker.stop()
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        meta = {"command": " ".join(["scripts/bench/run.py"] + sys.argv[1:]), "started": started.isoformat(timespec="seconds"),
                "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "host": platform.node(), "cpus": os.cpu_count(), "kernel": platform.release(),
                "rounds": args.rounds, "quick": args.quick}
        out.write_text(json.dumps({"meta": meta, "results": bench.results, "log": bench.log_lines}, indent=1))
        print(f"results: {out}")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
