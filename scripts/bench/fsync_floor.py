#!/usr/bin/env python3
"""The fsync floor of a disk: what an acks=all broker that fsyncs every acknowledged batch can reach.

Does what Rampart's storage does, without the broker: appends 64 KiB chunks to 1 or 8 files (one per
partition) and fsyncs them, and prints the fsync latency (p50/p99/p99.9/max) of each pattern:

- closed loop (as fast as the disk goes), one file per partition:
  - `serial`: one thread writes a chunk and fsyncs it, file after file (8 files: each fsync waits for the
    other partitions' ones, as when all partitions share one sync thread);
  - `concurrent`: one thread per file, each writing and fsyncing its own file at the same time (ext4's
    jbd2 can merge concurrent fsyncs into one journal commit);
- paced (`--rate` bytes/s, default the 90,500 × 1 KiB records/s of the latency target), which is what the
  broker sees at 50 % of its maximum: a writer appends chunks round robin over the files at that rate and
  the acknowledgement latency of a chunk (written → an fsync that started after its write returned) is
  printed next to the fsync time:
  - `group`: one syncer per file; an fsync covers every chunk written before it started; a chunk written
    while one is in flight waits for the next (Rampart's group commit: up to two fsync times);
  - `overlap`: every chunk's fsync starts at once on a pool of threads, even while an fsync of the same
    file is in flight (the acknowledgement waits for one fsync, not for the end of the previous one).

`--sync fdatasync` uses fdatasync instead of fsync; `--early-writeback` starts each chunk's writeback
right after its write (`sync_file_range(SYNC_FILE_RANGE_WRITE)`), so an fsync finds less left to write. Files go to a fresh directory under `--dir` (default
/tmp, which is on the same disk as the brokers' log directories here), removed at the end.

Usage: python3 scripts/bench/fsync_floor.py [--dir /tmp] [--seconds 5] [--files 1,8]
       [--patterns serial,concurrent,group,overlap] [--rate 92672000] [--sync fsync|fdatasync]
       [--early-writeback] [--json]
"""
import argparse
import ctypes
import ctypes.util
import json
import os
import queue
import shutil
import statistics
import tempfile
import threading
import time

CHUNK = 64 * 1024
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.sync_file_range.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
SYNC_FILE_RANGE_WRITE = 2


def percentiles(values_ms):
    """p50/p99/p99.9/max of a list of milliseconds (nearest rank)."""
    if not values_ms:
        return {"n": 0}
    ordered = sorted(values_ms)

    def rank(p):
        return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]
    return {"n": len(ordered), "p50": rank(50), "p99": rank(99), "p99.9": rank(99.9), "max": ordered[-1],
            "mean": statistics.fmean(ordered)}


class Files:
    """`count` files opened for appending in a fresh directory."""

    def __init__(self, base, count, sync, early_writeback=False):
        self.early_writeback = early_writeback
        self.offsets = [0] * count
        self.directory = tempfile.mkdtemp(prefix="fsync-floor-", dir=base)
        self.fds = [os.open(os.path.join(self.directory, f"p{i}.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                    for i in range(count)]
        self.sync_call = os.fdatasync if sync == "fdatasync" else os.fsync
        self.chunk = os.urandom(CHUNK)

    def write(self, i):
        os.write(self.fds[i], self.chunk)
        if self.early_writeback:
            # Start the writeback of this chunk now, without waiting for it (the fsync then finds
            # less to write); ctypes releases the GIL during the call.
            _libc.sync_file_range(self.fds[i], self.offsets[i], CHUNK, SYNC_FILE_RANGE_WRITE)
        self.offsets[i] += CHUNK

    def sync(self, i):
        """Fsyncs file i; returns the milliseconds it took."""
        start = time.perf_counter()
        self.sync_call(self.fds[i])
        return (time.perf_counter() - start) * 1000

    def close(self):
        for fd in self.fds:
            os.close(fd)
        shutil.rmtree(self.directory, ignore_errors=True)


def closed_loop(files, count, seconds, concurrent):
    """Write + fsync as fast as possible; returns fsync latencies (ms) and chunks/s."""
    latencies = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def loop(indices):
        mine = []
        while time.perf_counter() < deadline:
            for i in indices:
                files.write(i)
                mine.append(files.sync(i))
        with lock:
            latencies.extend(mine)
    if concurrent:
        threads = [threading.Thread(target=loop, args=([i],)) for i in range(count)]
    else:
        threads = [threading.Thread(target=loop, args=(list(range(count)),))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, len(latencies) / (time.perf_counter() - start)


def paced(files, count, seconds, rate, mode, pool_size):
    """A writer at `rate` bytes/s, round robin over the files; returns fsync and acknowledgement latencies."""
    interval = CHUNK / rate
    fsyncs, acks = [], []
    lock = threading.Lock()
    done = threading.Event()

    if mode == "group":
        # Per file: written chunk times not yet covered, and a condition to wake the file's syncer.
        pending = [[] for _ in range(count)]
        conditions = [threading.Condition() for _ in range(count)]

        def syncer(i):
            while True:
                with conditions[i]:
                    while not pending[i] and not done.is_set():
                        conditions[i].wait()
                    if not pending[i] and done.is_set():
                        return
                    covered, pending[i] = pending[i], []
                took = files.sync(i)
                end = time.perf_counter()
                with lock:
                    fsyncs.append(took)
                    acks.extend((end - t) * 1000 for t in covered)
        workers = [threading.Thread(target=syncer, args=(i,)) for i in range(count)]

        def submit(i, written_at):
            with conditions[i]:
                pending[i].append(written_at)
                conditions[i].notify()

        def finish():
            done.set()
            for c in conditions:
                with c:
                    c.notify_all()
    else:
        jobs = queue.Queue()

        def worker():
            while True:
                job = jobs.get()
                if job is None:
                    return
                i, written_at = job
                took = files.sync(i)
                end = time.perf_counter()
                with lock:
                    fsyncs.append(took)
                    acks.append((end - written_at) * 1000)
        workers = [threading.Thread(target=worker) for _ in range(pool_size)]

        def submit(i, written_at):
            jobs.put((i, written_at))

        def finish():
            for _ in workers:
                jobs.put(None)

    for w in workers:
        w.start()
    writes = []
    start = time.perf_counter()
    n = 0
    late = 0
    while True:
        due = start + n * interval
        now = time.perf_counter()
        if now - start >= seconds:
            break
        if due > now:
            time.sleep(due - now)
        elif now - due > 0.005:
            late += 1
        i = n % count
        before = time.perf_counter()
        files.write(i)
        after = time.perf_counter()
        writes.append((after - before) * 1000)
        submit(i, after)
        n += 1
    finish()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    return fsyncs, acks, writes, n * CHUNK / elapsed, late


def fmt(stats):
    if not stats.get("n"):
        return "no samples"
    return (f"p50 {stats['p50']:6.2f}  p99 {stats['p99']:6.2f}  p99.9 {stats['p99.9']:6.2f}  "
            f"max {stats['max']:6.2f} ms  (n={stats['n']})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default="/tmp")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--files", default="1,8")
    parser.add_argument("--patterns", default="serial,concurrent,group,overlap")
    parser.add_argument("--rate", type=float, default=90_500 * 1024, help="bytes/s of the paced patterns")
    parser.add_argument("--pool", type=int, default=8, help="threads of the overlap pattern")
    parser.add_argument("--sync", choices=["fsync", "fdatasync"], default="fsync")
    parser.add_argument("--early-writeback", action="store_true",
                        help="sync_file_range(SYNC_FILE_RANGE_WRITE) each chunk right after writing it")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    print(f"# {args.sync}{' + early writeback' if args.early_writeback else ''}, 64 KiB chunks, {args.seconds:g} s per pattern, dir {args.dir}, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)
    for count in (int(c) for c in args.files.split(",")):
        for pattern in args.patterns.split(","):
            files = Files(args.dir, count, args.sync, early_writeback=args.early_writeback)
            try:
                if pattern in ("serial", "concurrent"):
                    if pattern == "concurrent" and count == 1:
                        continue
                    latencies, per_second = closed_loop(files, count, args.seconds, pattern == "concurrent")
                    row = {"files": count, "pattern": pattern, "fsync_ms": percentiles(latencies),
                           "chunks_per_s": per_second}
                    print(f"{count} file(s) {pattern:10} fsync {fmt(row['fsync_ms'])}  "
                          f"{per_second * CHUNK / 2**20:7.1f} MiB/s", flush=True)
                else:
                    fsyncs, acks, writes, achieved, late = paced(files, count, args.seconds, args.rate, pattern, args.pool)
                    row = {"files": count, "pattern": pattern, "fsync_ms": percentiles(fsyncs),
                           "ack_ms": percentiles(acks), "write_ms": percentiles(writes), "bytes_per_s": achieved,
                           "late_writes": late}
                    print(f"{count} file(s) {pattern:10} fsync {fmt(row['fsync_ms'])}\n"
                          f"{'':22} write {fmt(row['write_ms'])}\n"
                          f"{'':22} ack   {fmt(row['ack_ms'])}  {achieved / 2**20:6.1f} MiB/s"
                          f"{f'  ({late} writes >5 ms late)' if late else ''}", flush=True)
                row["load1"] = os.getloadavg()[0]
                results.append(row)
            finally:
                files.close()
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
