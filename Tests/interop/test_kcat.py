"""kcat (Debian's build, librdkafka 2.0.2): metadata, produce and consume, every codec."""

import json
import shutil
import subprocess

import pytest

from messages import CODECS

KCAT = shutil.which("kcat") or shutil.which("kafkacat")
TIMEOUT_S = 30


def kcat(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    assert KCAT, "kcat is not installed (scripts/install-deps.sh installs it)"
    return subprocess.run([KCAT, *args], input=stdin, capture_output=True, text=True, timeout=TIMEOUT_S)


def test_kcat_lists_metadata_with_this_broker(bootstrap, broker):
    result = kcat("-b", bootstrap, "-L", "-J", "-m", "10")
    assert result.returncode == 0, f"kcat -L failed: {result.stderr}"
    metadata = json.loads(result.stdout)
    brokers = metadata["brokers"]
    assert [(b["id"], b["name"]) for b in brokers] == [(1, bootstrap)], f"brokers: {brokers}"
    assert metadata.get("controllerid") in (1, None)


def test_kcat_metadata_of_one_topic_autocreates_it(bootstrap, topic_name):
    result = kcat("-b", bootstrap, "-L", "-J", "-t", topic_name, "-m", "10")
    assert result.returncode == 0, f"kcat -L -t failed: {result.stderr}"
    topics = {t["topic"]: t for t in json.loads(result.stdout)["topics"]}
    assert topic_name in topics, f"topics: {list(topics)}"
    partitions = topics[topic_name]["partitions"]
    assert len(partitions) == 3
    assert all(p["leader"] == 1 and p["replicas"] == [{"id": 1}] for p in partitions), partitions


@pytest.mark.parametrize("codec", CODECS)
def test_kcat_produces_and_consumes_with_keys_and_headers(bootstrap, topic_name, codec):
    lines = [f"key-{i}:value {i} {'x' * (i % 50)}" for i in range(100)]
    produced = kcat("-b", bootstrap, "-P", "-t", topic_name, "-p", "0", "-K", ":", "-z", codec,
                    "-H", "origin=kcat", "-H", f"codec={codec}", "-X", "linger.ms=10",
                    stdin="\n".join(lines) + "\n")
    assert produced.returncode == 0, f"kcat -P failed: {produced.stderr}"

    consumed = kcat("-b", bootstrap, "-C", "-t", topic_name, "-p", "0", "-o", "beginning", "-e",
                    "-f", "%o|%k|%s|%h\\n")
    assert consumed.returncode == 0, f"kcat -C failed: {consumed.stderr}"
    got = consumed.stdout.splitlines()
    expected = [f"{i}|{line.split(':', 1)[0]}|{line.split(':', 1)[1]}|origin=kcat,codec={codec}"
                for i, line in enumerate(lines)]
    assert got == expected, f"first difference: {next(((g, e) for g, e in zip(got, expected) if g != e), (len(got), len(expected)))}"


def test_kcat_consumes_from_the_end_offset_and_by_offset(bootstrap, topic_name):
    produced = kcat("-b", bootstrap, "-P", "-t", topic_name, "-p", "1", stdin="a\nb\nc\nd\n")
    assert produced.returncode == 0, produced.stderr
    tail = kcat("-b", bootstrap, "-C", "-t", topic_name, "-p", "1", "-o", "-2", "-e", "-f", "%o %s\\n")
    assert tail.returncode == 0, tail.stderr
    assert tail.stdout.splitlines() == ["2 c", "3 d"]
    middle = kcat("-b", bootstrap, "-C", "-t", topic_name, "-p", "1", "-o", "1", "-c", "2", "-f", "%o %s\\n")
    assert middle.returncode == 0, middle.stderr
    assert middle.stdout.splitlines() == ["1 b", "2 c"]
