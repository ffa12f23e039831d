"""A small progress bar with rate and ETA on stderr (no tqdm needed).

On a terminal it redraws one line; into a file or pipe (a log, a CI job) it writes a line at
most every `interval` seconds and a last one at the end, so logs stay short.
"""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


class Progress:
    """``with Progress(total, "infer") as bar: ... bar.update(n)``.

    Args:
        total: Number of items, or None when unknown (a stream): then no ETA.
        desc: A word before the bar.
        unit: What an item is, for the rate.
        stream: Where to write (default: stderr).
        enabled: False writes nothing.
        interval: Seconds between lines when the stream is not a terminal.
    """

    def __init__(self, total=None, desc="", unit="it", stream=None, enabled=True, interval=5.0):
        self.total, self.desc, self.unit = total, desc, unit
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval = 0.1 if self.tty else interval
        self.done = 0
        self.start = time.perf_counter()
        self._last = -float("inf")

    def text(self) -> str:
        elapsed = time.perf_counter() - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        head = f"{self.desc}: " if self.desc else ""
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 20)
            eta = (self.total - self.done) / rate if rate > 0 else float("nan")
            eta_text = _clock(eta) if eta == eta else "?"
            return (
                f"{head}{frac:4.0%} |{bar:<20}| {self.done}/{self.total} "
                f"[{_clock(elapsed)}<{eta_text}, {rate:.2f} {self.unit}/s]"
            )
        return f"{head}{self.done} {self.unit} [{_clock(elapsed)}, {rate:.2f} {self.unit}/s]"

    def update(self, n: int = 1) -> None:
        self.done += n
        now = time.perf_counter()
        if self.enabled and now - self._last >= self.interval:
            self._last = now
            self._write()

    def _write(self) -> None:
        end = "\r" if self.tty else "\n"
        self.stream.write(self.text() + end)
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write(self.text() + "\n")
            self.stream.flush()
            self.enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
