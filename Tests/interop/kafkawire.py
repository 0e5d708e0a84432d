"""Just enough of the Kafka wire protocol, by hand, to probe the broker from raw sockets."""

import socket
import struct
import time

API_VERSIONS = 18
METADATA = 3
PRODUCE = 0


def request_header_v1(api_key: int, api_version: int, correlation_id: int, client_id: str = "interop") -> bytes:
    """Request header v1: api key, version, correlation id, nullable client id (int16 length)."""
    cid = client_id.encode()
    return struct.pack(">hhih", api_key, api_version, correlation_id, len(cid)) + cid


def frame(payload: bytes) -> bytes:
    """A size-delimited frame."""
    return struct.pack(">i", len(payload)) + payload


def api_versions_request(correlation_id: int = 1) -> bytes:
    """A framed ApiVersions v0 request (empty body)."""
    return frame(request_header_v1(API_VERSIONS, 0, correlation_id))


def metadata_request_v1(correlation_id: int, topics=None) -> bytes:
    """A framed Metadata v1 request; `topics=None` asks for every topic (array length -1)."""
    header = request_header_v1(METADATA, 1, correlation_id)
    if topics is None:
        body = struct.pack(">i", -1)
    else:
        body = struct.pack(">i", len(topics))
        for name in topics:
            encoded = name.encode()
            body += struct.pack(">h", len(encoded)) + encoded
    return frame(header + body)


def recv_exact(sock: socket.socket, count: int) -> bytes:
    """`count` bytes, or ConnectionError when the peer closes first."""
    chunks = []
    while count > 0:
        chunk = sock.recv(count)
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def read_response(sock: socket.socket) -> tuple:
    """One response frame: (correlation id, rest of the payload)."""
    (size,) = struct.unpack(">i", recv_exact(sock, 4))
    if size < 4 or size > 64 * 1024 * 1024:
        raise ValueError(f"implausible response size {size}")
    payload = recv_exact(sock, size)
    (correlation_id,) = struct.unpack(">i", payload[:4])
    return correlation_id, payload[4:]


def parse_api_versions_v0(body: bytes) -> tuple:
    """(error code, {api key: (min, max)}) from an ApiVersions v0 response body."""
    error_code, count = struct.unpack(">hi", body[:6])
    apis = {}
    offset = 6
    for _ in range(count):
        key, low, high = struct.unpack(">hhh", body[offset:offset + 6])
        apis[key] = (low, high)
        offset += 6
    return error_code, apis


def connect(host: str, port: int, timeout: float = 5.0) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def api_versions(host: str, port: int, timeout: float = 5.0, sock: socket.socket = None) -> dict:
    """Round trip of ApiVersions v0; returns {api key: (min, max)}. Raises OSError on any failure."""
    own = sock is None
    sock = sock or connect(host, port, timeout)
    try:
        sock.sendall(api_versions_request(correlation_id=4242))
        correlation_id, body = read_response(sock)
        if correlation_id != 4242:
            raise ConnectionError(f"ApiVersions answered with correlation id {correlation_id}, sent 4242")
        error_code, apis = parse_api_versions_v0(body)
        if error_code != 0:
            raise ConnectionError(f"ApiVersions error code {error_code}")
        return apis
    except (ValueError, struct.error) as error:
        raise ConnectionError(f"malformed ApiVersions response: {error}") from error
    finally:
        if own:
            sock.close()


def wait_for_close_or_response(sock: socket.socket, timeout: float) -> tuple:
    """Reads until the broker answers with one whole frame, closes the connection, or `timeout` passes.

    Returns (outcome, bytes received): outcome "answered" (a complete response frame arrived),
    "closed" (EOF or reset) or "open" (still connected and silent at the deadline).
    """
    deadline = time.monotonic() + timeout
    received = b""
    while True:
        if len(received) >= 4 and len(received) >= 4 + struct.unpack(">i", received[:4])[0]:
            return "answered", received
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return "open", received
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return "open", received
        except (ConnectionResetError, BrokenPipeError):
            return "closed", received
        if not chunk:
            return "closed", received
        received += chunk
