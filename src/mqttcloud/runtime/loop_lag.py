"""The broker's event-loop stall probe: how late the loop runs a timer that is due every `INTERVAL`.

One callback re-arms itself with `call_at`; each run measures its lateness (`loop.time()` minus when it was
due): the longest lateness in a window is the window's longest stall as clients feel it (a callback, a GC
pause or a batch of I/O that held the loop, or the machine's other load keeping the process off a CPU),
to within one interval and the loop clock's resolution (1 ms with uvloop). Each run also reads the
thread's CPU time: the most CPU the loop's thread used between two runs, past the interval, is the part
of a stall that is the broker's own work, whatever else the machine runs. `take()` returns both and
starts a new window; the admin op `ping` reports them (`PingResult.loop_stall_ms`, `loop_stall_cpu_ms`;
0 when the spec's `loop_lag_probe` is off, the default: 100 wake-ups a second are for measuring only).

Rule: one timer handle, no task, O(1) per tick; `stop()` cancels it (the server's shutdown).
"""

import asyncio
import time

INTERVAL = 0.01  # seconds between two ticks: 100 callbacks a second, a few microseconds each


class LoopLagProbe:
    """Measures the longest event-loop stall since the last `take()` (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float = INTERVAL) -> None:
        self.loop = loop
        self.interval = interval
        self.longest = 0.0  # seconds late, in the current window
        self.longest_cpu = 0.0  # CPU seconds used between two ticks past the interval, in the window
        self._due = 0.0
        self._cpu = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if self._handle is None:
            self._due = self.loop.time() + self.interval
            self._cpu = time.thread_time()
            self._handle = self.loop.call_at(self._due, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def take(self) -> tuple[float, float]:
        """(longest stall, its CPU part) in seconds since the previous call; starts a new window."""
        taken = (self.longest, self.longest_cpu)
        self.longest = self.longest_cpu = 0.0
        return taken

    def _tick(self) -> None:
        now = self.loop.time()
        cpu = time.thread_time()
        late = now - self._due
        self.longest = max(self.longest, late)
        busy = cpu - self._cpu - self.interval
        self.longest_cpu = max(self.longest_cpu, busy)
        self._cpu = cpu
        self._due = now + self.interval
        self._handle = self.loop.call_at(self._due, self._tick)
