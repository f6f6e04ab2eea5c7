"""Communication links between tiers: a ``simpy.Store`` behind a delay.

Every message between tiers crosses a :class:`Link`. A link delays each
message by its latency and drops it with probability ``loss``, drawn from
the run's seeded random generator so that runs repeat exactly. During a
communication outage it drops everything.

Messages sent at the same instant on one link arrive together: one SimPy
delivery event carries them all, in the order they were sent (a year with
thousands of messages per simulated hour does not pay an event each).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from hierarchy.kernel.clock import Order, tick

__all__ = ["Link", "LinkStats", "TraceRecord"]


@dataclass(frozen=True)
class TraceRecord:
    """One line of the message trace: what happened to a message, when."""

    time_ms: int
    what: str  # "sent" | "lost" | "delivered"
    link: str
    message: str  # message type name
    detail: str = ""


@dataclass
class LinkStats:
    """Counters of one link."""

    sent: int = 0
    lost: int = 0
    delivered: int = 0


@dataclass
class Link:
    """A one-way link with latency [ms] and loss probability.

    Parameters
    ----------
    env : simpy.Environment
        Environment (time in [ms]).
    name : str
        ``"area->market"`` and the like, for traces and messages.
    latency_ms : int
        Delay of every message [ms].
    loss : float
        Probability in [0, 1] that a message is lost.
    rng : numpy.random.Generator
        Seeded generator for losses.
    trace : list or None
        If a list, every send, loss and delivery is appended to it.

    Examples
    --------
    >>> env = simpy.Environment()
    >>> link = Link(env, "area->market", 500, 0.0, np.random.default_rng(0))
    >>> inbox = simpy.Store(env)
    >>> link.send("hello", inbox)
    True
    >>> env.run(until=499); len(inbox.items)
    0
    >>> env.run(until=501); inbox.items
    ['hello']
    """

    env: simpy.Environment
    name: str
    latency_ms: int
    loss: float
    rng: np.random.Generator
    trace: list | None = None
    stats: LinkStats = field(default_factory=LinkStats)
    down_until_ms: int = -1
    _batch: list | None = field(default=None, repr=False)
    _batch_due_ms: int = field(default=-1, repr=False)

    def send(self, message: Any, inbox: simpy.Store) -> bool:
        """Send ``message`` into ``inbox``; return False if it was lost."""
        now = int(self.env.now)
        self.stats.sent += 1
        lost = now < self.down_until_ms or (self.loss > 0.0 and self.rng.random() < self.loss)
        if self.trace is not None:
            self.trace.append(TraceRecord(now, "sent", self.name, type(message).__name__))
        if lost:
            self.stats.lost += 1
            if self.trace is not None:
                self.trace.append(TraceRecord(now, "lost", self.name, type(message).__name__))
            return False
        self._batch_due_now().append((message, inbox))
        return True

    def send_many(self, messages: list[tuple[Any, simpy.Store]]) -> None:
        """Send each ``(message, inbox)`` pair in order, as :meth:`send` would."""
        if self.loss > 0.0 or self.trace is not None or int(self.env.now) < self.down_until_ms:
            for message, inbox in messages:
                self.send(message, inbox)
            return
        self.stats.sent += len(messages)  # nothing can be lost or traced: one batch
        if messages:
            self._batch_due_now().extend(messages)

    def _batch_due_now(self) -> list[tuple[Any, simpy.Store]]:
        """The batch of messages sent now: one delivery event carries them all."""
        due_ms = int(self.env.now) + self.latency_ms
        if self._batch is None or self._batch_due_ms != due_ms:
            batch: list[tuple[Any, simpy.Store]] = []
            self._batch, self._batch_due_ms = batch, due_ms
            event = tick(self.env, self.latency_ms, Order.DELIVERY)
            event.callbacks.append(lambda _event: self._deliver(batch))
        return self._batch

    def outage(self, duration_ms: int) -> None:
        """Drop every message sent from now for ``duration_ms`` [ms]."""
        self.down_until_ms = max(self.down_until_ms, int(self.env.now) + int(duration_ms))

    def _deliver(self, batch: list[tuple[Any, simpy.Store]]) -> None:
        """Put every message due now into its inbox, in the order sent."""
        if self._batch is batch:
            self._batch = None
        now = int(self.env.now)
        for message, inbox in batch:
            self.stats.delivered += 1
            if inbox.get_queue:  # a process waits on the store: wake it the SimPy way
                inbox.put(message)
            else:  # consumers drain their inbox at their own period
                inbox.items.append(message)
            if self.trace is not None:
                self.trace.append(TraceRecord(now, "delivered", self.name, type(message).__name__))
