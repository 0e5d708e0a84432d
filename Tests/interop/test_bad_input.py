"""Hostile and broken input from raw sockets: each connection is closed (or answered with an error),
the broker stays up, and a normal client connected all along is unaffected."""

import random
import socket
import struct
import threading
import time

import pytest

import kafkawire
from kafkawire import connect, frame, request_header_v1, wait_for_close_or_response

CLOSE_TIMEOUT_S = 5.0


@pytest.fixture
def bystander(broker):
    """A well-behaved connection opened before the bad input; must still work afterwards."""
    sock = connect(broker.host, broker.port)
    kafkawire.api_versions(broker.host, broker.port, sock=sock)
    yield sock
    sock.close()


def half_close(sock):
    """SHUT_WR; the broker may already have closed (ENOTCONN), which is just as good."""
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def rss_kib(broker) -> int:
    with open(f"/proc/{broker.process.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def assert_unaffected(broker, bystander):
    """The broker is alive, the old connection still answers, a new one works, and so does a real client."""
    assert broker.is_running(), f"broker died:\n{broker.log_tail()}"
    kafkawire.api_versions(broker.host, broker.port, sock=bystander)
    kafkawire.api_versions(broker.host, broker.port)
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": broker.bootstrap, "acks": "all", "message.timeout.ms": 10000})
    failures = []
    producer.produce("bad-input-canary", value=b"still here", on_delivery=lambda e, _m: e and failures.append(e))
    assert producer.flush(15) == 0 and not failures, f"a normal producer failed after bad input: {failures}"


def assert_closed_or_answered(sock, correlation_id=None, what=""):
    """The broker closed the connection or answered `correlation_id` (an error answer) within 5 s."""
    outcome, received = wait_for_close_or_response(sock, CLOSE_TIMEOUT_S)
    if outcome == "answered" and correlation_id is not None:
        (answered,) = struct.unpack(">i", received[4:8])
        assert answered == correlation_id, f"{what}: answer carries correlation id {answered}, sent {correlation_id}"
    if outcome == "answered":
        return outcome
    assert outcome == "closed", f"{what}: connection neither closed nor answered within {CLOSE_TIMEOUT_S} s"
    return outcome


@pytest.mark.parametrize("seed", range(8))
def test_random_bytes_then_end_of_stream_are_closed(broker, bystander, seed):
    rng = random.Random(seed)
    sock = connect(broker.host, broker.port)
    try:
        sock.sendall(rng.randbytes(rng.randint(1, 8192)))
        half_close(sock)  # whatever the random length prefix promised never comes
        assert_closed_or_answered(sock, what=f"random stream (seed {seed})")
    finally:
        sock.close()
    assert_unaffected(broker, bystander)


@pytest.mark.parametrize("seed", range(8))
def test_random_frame_bodies_are_closed_or_answered(broker, bystander, seed):
    rng = random.Random(1000 + seed)
    body = rng.randbytes(rng.randint(8, 2000))
    (correlation_id,) = struct.unpack(">i", body[4:8])
    sock = connect(broker.host, broker.port)
    try:
        sock.sendall(frame(body))
        assert_closed_or_answered(sock, correlation_id, f"random body of {len(body)} bytes")
    finally:
        sock.close()
    assert_unaffected(broker, bystander)


@pytest.mark.parametrize("valid_api_key", [0, 1, 3, 11, 18, 19, 32])
def test_valid_header_with_garbage_body_is_closed_or_answered(broker, bystander, valid_api_key):
    """Each known API key at a version the broker supports, followed by random bytes."""
    advertised = kafkawire.api_versions(broker.host, broker.port)
    low, high = advertised.get(valid_api_key, (0, 0))
    rng = random.Random(valid_api_key)
    for version in sorted({low, high}):
        # For flexible versions the header's tagged fields come from the garbage too.
        header = request_header_v1(valid_api_key, version, correlation_id=777)
        sock = connect(broker.host, broker.port)
        try:
            sock.sendall(frame(header + rng.randbytes(300)))
            assert_closed_or_answered(sock, 777, f"api key {valid_api_key} v{version} with a garbage body")
        finally:
            sock.close()
    assert_unaffected(broker, bystander)


def test_frame_cut_short_then_end_of_stream_is_closed(broker, bystander):
    whole = kafkawire.api_versions_request(correlation_id=5)
    sock = connect(broker.host, broker.port)
    try:
        sock.sendall(whole[:len(whole) - 3])
        half_close(sock)
        assert wait_for_close_or_response(sock, CLOSE_TIMEOUT_S)[0] == "closed"
    finally:
        sock.close()
    assert_unaffected(broker, bystander)


def test_half_a_length_prefix_then_end_of_stream_is_closed(broker, bystander):
    sock = connect(broker.host, broker.port)
    try:
        sock.sendall(b"\x00\x00")
        half_close(sock)
        assert wait_for_close_or_response(sock, CLOSE_TIMEOUT_S)[0] == "closed"
    finally:
        sock.close()
    assert_unaffected(broker, bystander)


def test_truncated_request_inside_a_complete_frame_is_closed_or_answered(broker, bystander):
    """Metadata v1 promising 3 topic names and carrying one and a half."""
    header = request_header_v1(kafkawire.METADATA, 1, correlation_id=31)
    body = struct.pack(">i", 3) + struct.pack(">h", 5) + b"alpha" + struct.pack(">h", 40) + b"beta"
    sock = connect(broker.host, broker.port)
    try:
        sock.sendall(frame(header + body))
        assert_closed_or_answered(sock, 31, "truncated Metadata v1 body")
    finally:
        sock.close()
    assert_unaffected(broker, bystander)


def test_request_header_cut_inside_the_frame_is_closed(broker, bystander):
    """A 5-byte frame: api key, version and half a correlation id."""
    sock = connect(broker.host, broker.port)
    try:
        sock.sendall(frame(struct.pack(">hhb", 18, 0, 1)))
        assert wait_for_close_or_response(sock, CLOSE_TIMEOUT_S)[0] == "closed"
    finally:
        sock.close()
    assert_unaffected(broker, bystander)


@pytest.mark.parametrize("length", [0x7FFFFFFF, 104857601, 1 << 30, -1, -2147483648, 0])
def test_oversize_negative_or_zero_length_is_closed_without_allocating(broker, bystander, length):
    before = rss_kib(broker)
    sock = connect(broker.host, broker.port)
    try:
        # The length alone, and a few bytes so a lazy reader sees data: the broker must not wait for more.
        sock.sendall(struct.pack(">i", length) + b"\x00\x12\x00\x00")
        assert wait_for_close_or_response(sock, CLOSE_TIMEOUT_S)[0] == "closed", f"length {length} was not refused"
    finally:
        sock.close()
    grown_mib = (rss_kib(broker) - before) / 1024
    assert grown_mib < 64, f"broker memory grew by {grown_mib:.0f} MiB after a frame length of {length}"
    assert_unaffected(broker, bystander)


def test_slow_client_one_byte_a_second_does_not_hold_up_others(broker, bystander):
    """5 bytes at one byte a second; meanwhile normal clients get answers at once; then the rest."""
    request = kafkawire.api_versions_request(correlation_id=99)
    slow = connect(broker.host, broker.port, timeout=10)
    latencies = []
    stop = threading.Event()

    def normal_client():
        while not stop.is_set():
            start = time.monotonic()
            kafkawire.api_versions(broker.host, broker.port, timeout=5)
            latencies.append(time.monotonic() - start)
            time.sleep(0.2)

    other = threading.Thread(target=normal_client, daemon=True)
    other.start()
    try:
        for byte in request[:5]:
            slow.sendall(bytes([byte]))
            time.sleep(1.0)
        stop.set()
        other.join(timeout=10)
        slow.sendall(request[5:])
        outcome, received = wait_for_close_or_response(slow, CLOSE_TIMEOUT_S)
        # Either the broker waited and answered, or it closed a client this slow: both are acceptable.
        if received:
            assert len(received) >= 8 and struct.unpack(">i", received[4:8])[0] == 99
        else:
            assert outcome == "closed"
    finally:
        stop.set()
        slow.close()
    assert latencies, "the normal client made no request during the slow one"
    assert len(latencies) >= 10, f"only {len(latencies)} normal requests in 5 s"
    assert max(latencies) < 1.0, f"a normal request took {max(latencies):.2f} s while a slow client trickled"
    assert_unaffected(broker, bystander)


def test_many_bad_connections_at_once_leave_the_broker_serving(broker, bystander):
    sockets = []
    try:
        for i in range(50):
            sock = connect(broker.host, broker.port)
            sock.sendall(random.Random(i).randbytes(64))
            sockets.append(sock)
        kafkawire.api_versions(broker.host, broker.port)
    finally:
        for sock in sockets:
            sock.close()
    assert_unaffected(broker, bystander)


@pytest.mark.parametrize("api_key,version,body", [
    (999, 0, b""),                                         # no such API
    (-1, 0, b""),                                          # negative key
    (1, 3, struct.pack(">iiiii", -1, 100, 1, 1000, 0)),   # Fetch v3: below what the broker advertises
    (3, 99, b""),                                          # Metadata v99: no such version
], ids=["unknown-key-999", "negative-key", "fetch-v3", "metadata-v99"])
def test_unknown_api_key_or_version_is_closed_or_answered_and_an_answered_connection_stays_usable(
        broker, bystander, api_key, version, body):
    sock = connect(broker.host, broker.port)
    try:
        sock.sendall(frame(request_header_v1(api_key, version, correlation_id=555) + body))
        if assert_closed_or_answered(sock, 555, f"api key {api_key} v{version}") == "answered":
            kafkawire.api_versions(broker.host, broker.port, sock=sock)
    finally:
        sock.close()
    assert_unaffected(broker, bystander)
