"""Deterministic test messages (keys, values and headers of every awkward kind) and their comparison."""

import random
from dataclasses import dataclass, field

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]


@dataclass(frozen=True)
class Message:
    """One record as produced: partition chosen explicitly so the per-partition order is known."""
    partition: int
    key: bytes | None
    value: bytes | None
    headers: tuple = field(default=())

    def as_tuple(self):
        return (self.key, self.value, tuple(self.headers))


def make_messages(count: int, partitions: int, seed: int = 7, tag: str = "") -> list:
    """`count` messages over `partitions` partitions: null and empty keys and values, binary and
    compressible values up to 20 KB, none/one/repeated/UTF-8/empty-valued headers."""
    rng = random.Random(seed)
    messages = []
    for i in range(count):
        kind = i % 10
        key = f"key-{tag}-{i}".encode()
        if kind == 1:
            key = None
        elif kind == 2:
            key = b""
        if kind == 3:
            value = None  # a tombstone
        elif kind == 4:
            value = b""
        elif kind == 5:
            value = (f"compressible {tag} {i} " * 1000).encode()[:20000]
        elif kind == 6:
            value = rng.randbytes(rng.randint(1, 3000))
        else:
            value = f"value-{tag}-{i}-".encode() + rng.randbytes(rng.randint(0, 100))
        if kind in (0, 4):
            headers = ()
        elif kind == 7:
            headers = (("dup", b"first"), ("dup", b"second"), ("empty", b""))
        elif kind == 8:
            headers = (("unicode-ключ-鍵", "värde".encode()), ("bin", rng.randbytes(16)))
        else:
            headers = (("index", str(i).encode()), ("tag", tag.encode()))
        messages.append(Message(partition=i % partitions, key=key, value=value, headers=headers))
    return messages


def expected_by_partition(messages: list) -> dict:
    """{partition: [(key, value, headers), ...]} in production order."""
    result = {}
    for message in messages:
        result.setdefault(message.partition, []).append(message.as_tuple())
    return result


def normalize_headers(headers) -> tuple:
    """Clients return None, a list or a tuple of (str, bytes); header values None are kept."""
    if not headers:
        return ()
    return tuple((name, bytes(value) if value is not None else None) for name, value in headers)


def assert_same_contents(expected: dict, consumed: dict, offsets: dict) -> None:
    """Exact per-partition comparison, offsets contiguous from 0, with a readable first difference."""
    assert sorted(consumed) == sorted(expected), f"partitions consumed {sorted(consumed)}, produced {sorted(expected)}"
    for partition, want in expected.items():
        got = consumed[partition]
        assert len(got) == len(want), f"partition {partition}: consumed {len(got)} records, produced {len(want)}"
        for index, (g, w) in enumerate(zip(got, want)):
            assert g == w, f"partition {partition} record {index}: consumed {g!r:.300}, produced {w!r:.300}"
        assert offsets[partition] == list(range(len(want))), f"partition {partition}: offsets not 0..{len(want) - 1}: {offsets[partition][:20]}…"
