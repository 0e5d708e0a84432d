"""What else the machine is doing: the load average, and the CPU time spent by processes that are not
part of the measurement (other engineers' builds on the shared 2-core machine)."""
import os
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
CPUS = os.cpu_count() or 1


def load1():
    return os.getloadavg()[0]


def busy_seconds():
    """CPU-seconds all CPUs spent busy since boot (user+nice+system+irq+softirq+steal)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / TICKS


def own_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime, stime, cutime, cstime: children that were waited for count too
    return sum(int(x) for x in fields[11:15]) / TICKS


class Window:
    """Measures, over a run, the CPU-seconds used by everything outside `pids` (the brokers, this driver
    and its waited-for children), in cores."""

    def __init__(self, pids):
        self.pids = [p for p in pids if p]
        self.start = time.monotonic()
        self.busy = busy_seconds()
        self.ours = self._ours()

    def _ours(self):
        total = 0.0
        for pid in self.pids:
            try:
                total += own_seconds(pid)
            except FileNotFoundError:
                pass
        return total

    def others_cores(self):
        elapsed = max(1e-6, time.monotonic() - self.start)
        others = (busy_seconds() - self.busy) - (self._ours() - self.ours)
        return max(0.0, others / elapsed)


def wait_quiet(pids, max_others=0.35, max_load=None, patience=600, log=print):
    """Waits (up to `patience` s) until, over a 2-second sample taken while the brokers idle, processes
    other than ours use less than `max_others` cores and, when `max_load` is given, the 1-minute load
    average is below it. The load average counts our own runs too and lags by a minute, so between runs
    only the others' CPU is required to be low; the load is checked before the first run. Returns
    (load1, others_cores, quiet)."""
    deadline = time.monotonic() + patience
    waited = False
    while True:
        window = Window(pids)
        time.sleep(2)
        others, load = window.others_cores(), load1()
        quiet = others < max_others and (max_load is None or load < max_load)
        if quiet or time.monotonic() > deadline:
            if waited:
                log(f"  (machine quiet enough after waiting: load {load:.2f}, others {others:.2f} cores)")
            return load, others, quiet
        if not waited:
            log(f"  waiting for a quieter machine: load {load:.2f}, other processes {others:.2f} cores")
            waited = True
