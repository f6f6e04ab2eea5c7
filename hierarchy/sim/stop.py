"""Stopping a run between two physics steps, on SIGTERM or Ctrl-C.

A signal can arrive at any bytecode; raised there, it could leave a table
half-appended (a market interval with a price but no awards). While the
engine runs, the first SIGTERM or Ctrl-C only asks it to stop: the physics
process honours the request at the start of its next step, where every
process is between two of its steps. A second signal stops at once.
"""
from __future__ import annotations

import signal
from contextlib import contextmanager

__all__ = ["RunInterrupted", "StopRequest"]


class RunInterrupted(BaseException):
    """The run was stopped by SIGTERM or Ctrl-C.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception``
    inside a tier or the engine mistakes it for a policy's failure.
    """


class StopRequest:
    """A stop asked for by a signal; :attr:`reason` is None until then."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def _handler(self, signum, frame) -> None:
        if self.reason is not None:  # asked twice: stop now
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise RunInterrupted(self.reason)
        self.reason = "terminated by SIGTERM" if signum == signal.SIGTERM else "interrupted"

    def check(self) -> None:
        """Raise :class:`RunInterrupted` if a stop was asked for."""
        if self.reason is not None:
            raise RunInterrupted(self.reason)

    @contextmanager
    def installed(self):
        """Route SIGTERM and SIGINT here for the duration (main thread only)."""
        previous = {}
        try:
            for signum in (signal.SIGTERM, signal.SIGINT):
                previous[signum] = signal.signal(signum, self._handler)
        except ValueError:  # not the main thread: signals stay as they are
            pass
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
