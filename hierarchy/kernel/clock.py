"""Simulation time: integer milliseconds, and the one fixed order at equal times.

SimPy orders events at equal times by when they were scheduled, which
would let a coordinator act on data that is about to change. hiergrid
schedules its own ticks with explicit priorities instead; this module is
the one place that fixes the order within an instant:

deliveries (messages arriving over links) → scenario events → physics
(profiles, unit controllers, power flow) → frequency → area coordinators →
area bidding → market.
"""
from __future__ import annotations

from enum import IntEnum

import simpy

__all__ = ["Order", "tick", "pause_before", "MS_PER_HOUR", "MS_PER_S"]

MS_PER_S = 1_000
MS_PER_HOUR = 3_600_000


class Order(IntEnum):
    """Priority of an event at equal times (lower runs first).

    SimPy's own URGENT (0) and NORMAL (1) priorities stay below these, so
    the continuation of whatever was just processed finishes first.
    """

    DELIVERY = 2
    EVENT = 3
    PHYSICS = 4
    FREQUENCY = 5
    AREA = 6
    BIDDING = 7
    MARKET = 8


def tick(env: simpy.Environment, delay_ms: int, order: Order) -> simpy.Event:
    """An event that fires ``delay_ms`` from now at priority ``order``.

    Parameters
    ----------
    env : simpy.Environment
        The simulation environment (time in [ms]).
    delay_ms : int
        Delay [ms], >= 0.
    order : Order
        Position within an instant.

    Examples
    --------
    >>> env = simpy.Environment()
    >>> seen = []
    >>> def proc(name, order):
    ...     yield tick(env, 10, order)
    ...     seen.append(name)
    >>> _ = env.process(proc("market", Order.MARKET))
    >>> _ = env.process(proc("physics", Order.PHYSICS))
    >>> env.run()
    >>> seen
    ['physics', 'market']
    """
    if delay_ms < 0:
        raise ValueError(f"negative delay {delay_ms} ms")
    event = simpy.Event(env)
    event._ok = True
    event._value = None
    env.schedule(event, int(order), int(delay_ms))
    return event


def pause_before(env: simpy.Environment, delay_ms: int, order: Order) -> simpy.Event:
    """An event ``delay_ms`` from now, after everything of a lower order then, before ``order``.

    For running a simulation up to a point inside an instant from outside
    (``env.run(until=pause_before(env, delay, Order.AREA))`` stops after the
    instant's deliveries, events, physics and frequency, before its area
    coordinators act), as :mod:`hierarchy.coupling` does; nothing inside a run
    schedules one.

    Parameters
    ----------
    env : simpy.Environment
        The simulation environment (time in [ms]).
    delay_ms : int
        Delay [ms], >= 0.
    order : Order
        The first order that runs after the pause.

    Examples
    --------
    >>> env = simpy.Environment()
    >>> seen = []
    >>> def proc(name, order):
    ...     yield tick(env, 10, order)
    ...     seen.append(name)
    >>> _ = env.process(proc("area", Order.AREA))
    >>> _ = env.process(proc("physics", Order.PHYSICS))
    >>> env.run(until=pause_before(env, 10, Order.AREA))
    >>> seen
    ['physics']
    """
    if delay_ms < 0:
        raise ValueError(f"negative delay {delay_ms} ms")
    event = simpy.Event(env)
    event._ok = True
    event._value = None
    env.schedule(event, int(order) - 0.5, int(delay_ms))  # between order - 1 and order
    return event
