"""`rampart bench produce|consume` (issue 8): the project's own load generator against the broker."""

import json
import os
import subprocess
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

import conftest

TIMEOUT_S = 60


def rampart(*args) -> subprocess.CompletedProcess:
    binary = Path(os.environ.get("RAMPART_BIN", conftest.DEFAULT_BINARY))
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=TIMEOUT_S)


def test_bench_produce_sends_every_record_and_reports_latency_percentiles(bootstrap, topic_name):
    result = rampart("bench", "produce", "--bootstrap-server", bootstrap, "--topic", topic_name,
                     "--num-records", "2000", "--record-size", "100", "--throughput", "-1", "--acks", "all",
                     "--producer-props", "batch.size=16384", "linger.ms=1")
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("2000 records sent, "), line
    for part in ("records/sec", "MB/sec", "ms avg latency", "ms max latency", "ms 50th", "ms 99th", "ms 99.9th"):
        assert part in line, line

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": topic_name, "enable.auto.commit": False})
    partitions = consumer.list_topics(topic_name, timeout=10).topics[topic_name].partitions
    total = 0
    for partition in partitions:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic_name, partition), timeout=10)
        total += high - low
    consumer.close()
    assert total == 2000


def test_bench_produce_throttled_json_then_consume(bootstrap, topic_name):
    produced = rampart("bench", "produce", "--bootstrap-server", bootstrap, "--topic", topic_name,
                       "--num-records", "300", "--record-size", "1024", "--throughput", "1000", "--acks", "1",
                       "--json")
    assert produced.returncode == 0, produced.stderr
    summary = json.loads(produced.stdout.strip().splitlines()[-1])
    assert summary["records"] == 300
    # 300 records at 1,000/s take about 0.3 s: the throttle holds the rate (with room for a slow machine).
    assert 0.25 <= summary["seconds"] < 10, summary
    assert summary["records_per_sec"] <= 1_250, summary
    assert 0 <= summary["p50_ms"] <= summary["p99_ms"] <= summary["p999_ms"] <= summary["max_ms"], summary

    consumed = rampart("bench", "consume", "--bootstrap-server", bootstrap, "--topic", topic_name,
                       "--num-records", "300", "--json")
    assert consumed.returncode == 0, consumed.stderr
    result = json.loads(consumed.stdout.strip().splitlines()[-1])
    assert result["records"] == 300
    assert abs(result["mb"] - 300 * 1024 / 1_048_576) < 0.01, result


def test_bench_consume_gives_up_when_records_are_missing(bootstrap, topic_name):
    produced = rampart("bench", "produce", "--bootstrap-server", bootstrap, "--topic", topic_name,
                       "--num-records", "10", "--record-size", "10")
    assert produced.returncode == 0, produced.stderr
    consumed = rampart("bench", "consume", "--bootstrap-server", bootstrap, "--topic", topic_name,
                       "--num-records", "20", "--timeout-ms", "1000")
    assert consumed.returncode == 1
    assert "consumed only 10 of 20 records" in consumed.stderr


def test_bench_rejects_bad_arguments(bootstrap, topic_name):
    for args in (["--num-records", "0", "--record-size", "10"], ["--num-records", "5", "--record-size", "10",
                                                                  "--throughput", "0"]):
        result = rampart("bench", "produce", "--bootstrap-server", bootstrap, "--topic", topic_name, *args)
        assert result.returncode != 0
        assert "must" in result.stderr, result.stderr
