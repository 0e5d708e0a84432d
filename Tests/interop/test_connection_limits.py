"""Connection limits from server.properties: max.connections and max.connections.per.ip."""
import socket
import struct
import time

import pytest

from conftest import BrokerProcess


def api_versions_v0(sock, correlation_id):
    body = struct.pack(">hhih", 18, 0, correlation_id, -1)
    sock.sendall(struct.pack(">i", len(body)) + body)
    size = struct.unpack(">i", sock.recv(4))[0]
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "connection closed mid-response"
        data += chunk
    return struct.unpack(">i", data[:4])[0]


def admitted_connection(broker, correlation_id):
    """A connection that the broker answers. The fixture's own readiness probe may still hold a place
    for a moment after it closed, so a refusal is retried briefly."""
    for _ in range(50):
        sock = socket.create_connection((broker.host, broker.port), timeout=5)
        try:
            if api_versions_v0(sock, correlation_id) == correlation_id:
                return sock
        except (AssertionError, OSError, struct.error):
            pass
        sock.close()
        time.sleep(0.05)
    pytest.fail("no connection was admitted")


@pytest.mark.parametrize("key", ["max.connections", "max.connections.per.ip"])
def test_connection_over_the_limit_is_closed_and_others_keep_working(tmp_path, key):
    broker = BrokerProcess(tmp_path / "broker", extra_properties={key: "2"})
    broker.start()
    try:
        first = admitted_connection(broker, 1)
        second = admitted_connection(broker, 2)
        third = socket.create_connection((broker.host, broker.port), timeout=5)
        third.settimeout(5)
        assert third.recv(1) == b"", "the connection over the limit is closed"
        # The admitted connections are unaffected; closing one frees a place.
        assert api_versions_v0(first, 3) == 3
        second.close()
        fourth = admitted_connection(broker, 4)
        fourth.close()
        first.close()
        third.close()
    finally:
        assert broker.stop() == 0
