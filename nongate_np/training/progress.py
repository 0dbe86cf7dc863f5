"""A small live progress bar (steps, rate, ETA and running values) for the command line."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m:d}:{s:02d}"


class ProgressBar:
    """``bar.update(loss=0.41)`` after each step; redraws at most ``fps`` times a second on a
    terminal (every ``total // 4`` steps elsewhere, so logs stay short); ``close()`` ends it.

    ``clock`` is the time source, a callable returning seconds as a float (default
    ``time.perf_counter``); the rate and the ETA are measured with it. With ``delay`` (in
    seconds) nothing is written until that long after the start, so a short task stays
    silent.
    """

    def __init__(self, total: int, desc: str = "", stream=None, width: int = 24,
                 fps: float = 10.0, clock=time.perf_counter, delay: float = 0.0):
        self.total, self.desc, self.width = max(int(total), 1), desc, width
        self.delay, self._shown = delay, delay <= 0
        self.stream = sys.stderr if stream is None else stream
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.count, self.values = 0, {}
        self.clock = clock
        self.start = self._last = clock()
        self._first = None              # when the first step ended
        self._min_interval = 1.0 / fps

    def line(self) -> str:
        now = self.clock()
        frac = self.count / self.total
        filled = int(frac * self.width)
        # NOTE: the rate leaves out the first step, which may include compiling the kernels.
        if self.count > 1:
            eta = (now - self._first) / (self.count - 1) * (self.total - self.count)
        else:
            eta = (now - self.start) * (self.total - self.count)
        values = " ".join(f"{k} {v:.4g}" for k, v in self.values.items())
        return (f"{self.desc} [{'#' * filled}{'.' * (self.width - filled)}] "
                f"{self.count}/{self.total} {values} ETA {_clock(eta)}").strip()

    def update(self, n: int = 1, **values) -> None:
        self.count = min(self.count + n, self.total)
        self.values.update(values)
        now = self.clock()
        if self._first is None:
            self._first = now
        if not self._shown:
            if now - self.start < self.delay:
                return
            self._shown = True
        if self.tty:
            if now - self._last >= self._min_interval or self.count == self.total:
                self.stream.write("\r" + self.line().ljust(79))
                self.stream.flush()
                self._last = now
        elif self.count == self.total or self.count % max(self.total // 4, 1) == 0:
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty and self._shown:
            self.stream.write("\r" + self.line().ljust(79) + "\n")
            self.stream.flush()
