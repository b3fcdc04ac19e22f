"""A scan of many accounts on a terminal: one progress bar (account-regions done of those expected, verdicts,
gaps, throttling answers, ETA) fed by `scan_many`'s `on_progress`; silent when stderr is not a terminal or
with `--quiet`. Drawn with rich.progress when `rich` is installed (extra `progress`), else one line
rewritten in place."""

from __future__ import annotations

import sys
import threading
import time
from typing import IO, Any

from ..aws.organization import Tally


def _eta(seconds: float | None) -> str:
    if seconds is None:
        return "ETA -"
    seconds = int(seconds)
    return f"ETA {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def line(tally: Tally, now: float | None = None) -> str:
    """What the bar says, e.g. `12/40 account-regions (3 accounts to open), 480 verdicts, 1 gap, 0 throttled,
    ETA 0:01:10`."""
    more = f" ({tally.unopened} accounts to open)" if tally.unopened > 0 else ""
    return (f"{tally.done}/{tally.expected} account-regions{more}, {tally.verdicts:,} verdicts, "
            f"{tally.gaps} gap{'' if tally.gaps == 1 else 's'}, {tally.throttles} throttled, "
            f"{_eta(tally.eta_seconds(now))}")


class ScanProgress:
    """`with ScanProgress(quiet) as show: scan_many(..., on_progress=show)`."""

    def __init__(self, quiet: bool = False, stream: IO[str] | None = None):
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = not quiet and self.stream.isatty()
        self._lock = threading.Lock()
        self._rich: Any = None
        self._task: Any = None
        self._last = 0.0

    def __enter__(self) -> ScanProgress:
        if self.enabled:
            try:
                from rich.console import Console
                from rich.progress import BarColumn, Progress, TextColumn
            except ImportError:
                return self
            self._rich = Progress(TextColumn("scan"), BarColumn(), TextColumn("{task.description}"),
                                  console=Console(file=self.stream), transient=False)
            self._rich.start()
            self._task = self._rich.add_task("starting", total=None)
        return self

    def __call__(self, tally: Tally) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._rich is not None:
                self._rich.update(self._task, description=line(tally), completed=tally.done,
                                  total=max(tally.expected, tally.done) or None)
                return
            now = time.monotonic()
            if now - self._last >= 0.2 or tally.done >= tally.expected:
                self._last = now
                self.stream.write(f"\r\033[K… {line(tally)}")
                self.stream.flush()

    def __exit__(self, *_: object) -> None:
        if self._rich is not None:
            self._rich.stop()
        elif self.enabled and self._last:
            self.stream.write("\n")
            self.stream.flush()
