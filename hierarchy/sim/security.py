"""The market's security step: after each clearing, the schedule against the feeder's limits.

Called by the engine right after the market clears an interval
(``market.security.enabled``). It turns the awards into element injections,
has the plant check them with a power flow (:class:`~hierarchy.plant.security.GridCheck`),
and where a voltage or loading limit is violated re-dispatches the awards
with the market tier's rule (:func:`market_control.security.redispatch`),
round by round with a fresh power flow and fresh sensitivities, until the
schedule holds or ``market.security.max_rounds`` are done. It reports what
it changed and why (events ``security_violation``, ``redispatch``,
``security_unresolved``, ``interruption``; the ``market_clearing`` columns
and ``market_redispatch_mw``), and books the contracts' interruptions.

The schedule's injections: every element a participant owns (the metering
of :mod:`hierarchy.sim.recorder`) is scaled from its output at gate
closure so that the participant's total is its award (reactive power of
loads in proportion, at their power factor; of generators as it is);
elements of participants without an award keep their output; the ext_grid
(the upstream participant) is the slack.

Under continuous trading (``market.mechanism: continuous``) the check runs
on the positions at each interval's gate closure (day-ahead award plus net
trades) and moves them along each participant's supply curve in its
standing orders (:func:`market_control.security_orders.orders_at_position`):
the orders it sent since it last withdrew, each at its price; a load's
position is curtailed as after an auction. The trades stand; the
settlement pays them, so the redispatch account pays each move in full at
its block's price (not its difference to the clearing price, as after an
auction).
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from hierarchy.plant.plant import INJECTION_TABLES

__all__ = ["SecurityStep", "build_security"]

#: a participant's total output below this is "nothing" when scaling it [MW]
_ZERO_MW = 1e-9
#: curtailment of a contract's consumption that counts as an interruption [MW]
_INTERRUPTED_MW = 1e-6


def build_security(rt):
    """The security step of a run, or None when ``market.security.enabled`` is false.

    Raises
    ------
    ScenarioError
        At ``market.security.branch_limits_percent.<branch>`` for a branch
        not in the grid.
    """
    from hierarchy.plant.security import GridCheck
    from hierarchy.plant.topology import parse_element
    from hierarchy.scenario import ScenarioError

    config = rt.scenario.market.security
    if not config.enabled or rt.market is None:
        return None
    net = rt.plant.net
    limits = {}
    for name, percent in config.branch_limits_percent.items():
        table, index = parse_element(name)
        if index not in net[table].index:
            raise ScenarioError(f"market.security.branch_limits_percent.{name}", f"{name} is not in the grid")
        limits[(table, int(np.flatnonzero(net[table].index == index)[0]))] = percent
    check = GridCheck(rt.plant, config.voltage_band_pu, config.max_loading_percent, limits)
    return SecurityStep(rt, check)


class SecurityStep:
    """Check and re-dispatch every clearing of a run (see the module docstring).

    Parameters
    ----------
    rt : Runtime
        The wired run (its plant, groups, recorder and scenario).
    check : GridCheck
        The plant's power-flow check.
    """

    def __init__(self, rt, check):
        from area_control.aggregation import unit_participant
        from market_control.service_levels import InterruptionLedger, ServiceLevel

        self.rt, self.check = rt, check
        self.config = rt.scenario.market.security
        meter = rt.recorder.meter
        self.meter = meter
        self.elements: dict[str, dict[str, np.ndarray]] = {}  # participant -> table -> positions
        for table, owner in meter.owner.items():
            for column in np.unique(owner[owner >= 0]):
                self.elements.setdefault(meter.names[column], {})[table] = np.flatnonzero(owner == column)
        area_ids = [a.id for a in rt.areas]
        self.kind: dict[str, str] = {}  # participant -> how the check may move it
        self.level: dict[str, ServiceLevel] = {}  # flexible-load participant -> its service level
        levels = {name: ServiceLevel(c.priority, c.interruptible, c.discount, c.interruption_price,
                                     c.max_interruptions, c.max_interruption_duration, c.interruption_period)
                  for name, c in rt.scenario.market.customer_classes.items()}
        for g in rt.groups:
            for a, rows in g.by_area.items():
                area = area_ids[a]
                if g.kind == "dispatchable" and g.takes_setpoints:
                    for r in rows:
                        self.kind[unit_participant(area, g.id, g.kind, g.unit_ids[r])] = "dispatchable"
                elif g.kind == "renewable" and g.takes_setpoints:
                    self.kind[f"{area}/{g.id}"] = "renewable"
                elif g.kind == "flexible_load" and g.takes_setpoints:
                    self.kind[f"{area}/{g.id}"] = "flexible_load"
                    self.level[f"{area}/{g.id}"] = levels.get(rt.customer_class.get(g.id, "default"),
                                                              ServiceLevel())
        self.ledger = InterruptionLedger(rt.interval_ms)
        self.continuous = bool(rt.stages.continuous)

    # ------------------------------------------------------------ the step
    def secure(self, start_ms: int, clearing, offers, bids):
        """The clearing of the interval at ``start_ms`` [ms], re-dispatched where its schedule
        violates a limit; records what was checked and done."""
        from market_control.security import Limits, redispatch
        from market_control.security_orders import (
            blocks_from_orders,
            orders_at_position,
        )

        config = self.config
        self.check.sync()
        if self.continuous:  # the positions, moved along each participant's standing orders
            offers, bids, offers_mw, bids_mw = orders_at_position(
                clearing.standing_orders, clearing.awards, self.rt.scenario.market.price_cap, start_ms)
        else:
            offers_mw, bids_mw = list(clearing.offers_accepted_mw), list(clearing.bids_accepted_mw)
        price_of = self._prices(clearing, offers, bids)
        awards = dict(clearing.awards)
        p_mw, q_mvar = self._schedule(awards)
        first = self.check.assess(p_mw, q_mvar)
        assessment, used, actions = first, [], []
        reach_of: dict[str, float] = {}  # constraint -> the largest relief per MW seen [pu/MW]
        for _ in range(config.max_rounds):
            if not assessment.converged or assessment.violated().size == 0:
                break
            movable = self._movable(start_ms)
            blocks = blocks_from_orders(offers, bids, offers_mw, bids_mw, price_of, movable)
            moving = sorted({b.participant for b in blocks if b.participant in self.elements})
            patterns = [self._pattern(name, awards, p_mw) for name in moving]
            sensed = self.check.assess(p_mw, q_mvar, patterns)
            limits = Limits(sensed.names, sensed.value, sensed.limit, sensed.sign, sensed.scale,
                            tuple(moving), sensed.sensitivity)
            reach = np.array([max(r, reach_of.get(n, 0.0)) for n, r in zip(limits.names, limits.spread())])
            reach_of.update(zip(limits.names, reach.tolist()))  # kept as participants run out
            limits = replace(limits, reach=reach)
            result = redispatch(config.method, blocks, limits)
            if not result.delta_mw:
                break
            for block, mw in zip(blocks, result.used_mw):
                if mw > 0:
                    used.append((block, mw))
                    _apply(block, mw, offers_mw, bids_mw)
            for name, delta in result.delta_mw.items():
                awards[name] = awards.get(name, 0.0) + delta
            actions.extend(result.actions)
            p_mw, q_mvar = self._schedule(awards)
            assessment = self.check.assess(p_mw, q_mvar)
        return self._finish(start_ms, clearing, awards, offers_mw, bids_mw, first, assessment, used,
                            actions, price_of)

    def _finish(self, start_ms, clearing, awards, offers_mw, bids_mw, first, last, used, actions, price_of):
        """Report, book the interruptions, and the clearing with the new awards."""
        now = int(self.rt.env.now)
        violated = first.violated() if first.converged else np.zeros(0, int)
        left = last.violated() if last.converged and violated.size else np.zeros(0, int)
        self._report(start_ms, now, first, last, violated, left, actions)
        delta = {name: awards[name] - clearing.awards.get(name, 0.0) for name in awards
                 if abs(awards[name] - clearing.awards.get(name, 0.0)) > 0}
        nan = math.nan
        bounds = {name: ((awards[name], nan) if change > 0 else (nan, awards[name]))
                  for name, change in delta.items() if name in self.kind}
        self._book(start_ms, used, now)
        self._record(start_ms, first, last, violated, left, used, delta, price_of)
        if not delta:
            return clearing
        if self.continuous:  # the trades, their volume and value, stay as they were
            return replace(clearing, awards=awards, bounds_mw=bounds)
        return replace(clearing, awards=awards, offers_accepted_mw=tuple(offers_mw),
                       bids_accepted_mw=tuple(bids_mw), quantity_mw=float(sum(offers_mw)),
                       bounds_mw=bounds)

    def _report(self, start_ms: int, now: int, first, last, violated, left, actions) -> None:
        """Events: the limits the schedule violated, each move and what is still violated."""
        rec, when = self.rt.recorder, _clock(self.rt, start_ms)
        if not first.converged:
            rec.event(now, "security_violation", "", f"interval {when}: the power flow of the schedule "
                                                     "did not converge; not checked")
        elif violated.size:
            worst = int(violated[np.argmax((first.sign * (first.value - first.limit) / first.scale)[violated])])
            rec.event(now, "security_violation", first.names[worst].split()[0],
                      f"interval {when}: " + _listed([_describe(first, int(c)) for c in violated]))
        for action in actions:
            rec.event(now, "redispatch", action.participant,
                      f"interval {when}: {action.delta_mw:+.4f} MW ({action.label} at "
                      f"{action.price:.2f}/MWh) {action.reason}")
        if left.size:
            why = ("nothing that may move relieves it" if not actions else
                   f"after {self.config.max_rounds} rounds, or nothing left that relieves it without "
                   "breaking another limit")
            rec.event(now, "security_unresolved", last.names[int(left[0])].split()[0],
                      f"interval {when}: still " + _listed([_describe(last, int(c)) for c in left])
                      + f" ({why})")

    def _record(self, start_ms: int, first, last, violated, left, used, delta: dict, price_of) -> None:
        """The interval's ``market_clearing`` columns, award changes and redispatch payments."""
        from market_control.service_levels import redispatch_payments

        interval_h = self.rt.interval_ms / 3_600_000
        # the settlement pays the award change at the clearing price, except under continuous
        # trading, which pays the trades only: there the redispatch pays each move in full
        paid_at = {name: 0.0 for name in price_of} if self.continuous else price_of
        up_mw = sum(mw for block, mw in used if block.up)
        self.rt.recorder.market.security_check(start_ms, {
            "security_violations": float(violated.size),
            "security_unresolved": float(left.size),
            "redispatch_mw": float(up_mw),
            "redispatch_cost": float(sum((mw if b.up else -mw) * b.price for b, mw in used)) * interval_h,
            "curtailed_load_mw": float(sum(mw for b, mw in used if b.up and b.side == "bid"
                                           and b.participant != "upstream")),
            "max_loading_before_percent": first.worst("loading"),
            "max_loading_after_percent": last.worst("loading"),
            "vm_min_after_pu": last.worst("vm_min"), "vm_max_after_pu": last.worst("vm_max"),
        }, delta, redispatch_payments(used, paid_at, interval_h))

    def _book(self, start_ms: int, used, now: int) -> None:
        """Count the contracts' interruptions of this interval; an event where one starts or ends."""
        curtailed = {b.participant for b, mw in used
                     if b.label == "interruptible contract" and mw > _INTERRUPTED_MW}
        for name, level in self.level.items():
            if not level.interruptible:
                continue
            text = self.ledger.record(name, level, start_ms, name in curtailed)
            if text is not None:
                self.rt.recorder.event(now, "interruption", name, f"interval {_clock(self.rt, start_ms)}: {text}")

    # ----------------------------------------------------------- the parts
    def _movable(self, start_ms: int) -> dict:
        """Participant -> :class:`~market_control.security.Movable` for this interval."""
        from market_control.security_orders import Movable
        from market_control.service_levels import curtailment_tier

        movable = {"upstream": Movable(raise_offers=True, lower_offers=True, lower_bids=True, raise_bids=True,
                                       curtail_label="bid")}  # its export bid accepted less: no curtailment
        for name, kind in self.kind.items():
            if kind == "dispatchable":
                movable[name] = Movable(raise_offers=True, lower_offers=True)
            elif kind == "renewable":
                movable[name] = Movable(lower_offers=True)
            else:
                level = self.level[name]
                if self.ledger.allows(name, level, start_ms):
                    movable[name] = Movable(lower_bids=True, curtail_price=level.interruption_price,
                                            curtail_label="interruptible contract")
                elif self.config.firm_curtailment:
                    movable[name] = Movable(lower_bids=True, curtail_tier=curtailment_tier(level),
                                            curtail_label=f"involuntary curtailment, priority {level.priority}")
        return movable

    def _prices(self, clearing, offers, bids) -> dict[str, float]:
        """Participant -> the clearing price of its area [per MWh]."""
        out = {}
        for order in (*offers, *bids):
            if order.participant not in out:
                area = order.area if order.area is not None else self.meter.area_of(order.participant)
                out[order.participant] = (float(clearing.price) if not isinstance(clearing.price, dict)
                                          else float(clearing.price.get(area, math.nan)))
        return out

    def _schedule(self, awards: dict[str, float]) -> tuple[dict, dict]:
        """Element injections [MW], [Mvar] (generation positive) if every participant delivers its award."""
        plant = self.rt.plant
        p_mw, q_mvar = {}, {}
        for table in INJECTION_TABLES:
            p, q = plant.output(table, np.arange(len(plant.net[table])))
            p_mw[table], q_mvar[table] = p.copy(), q.copy()
        for name, award_mw in awards.items():
            parts = self.elements.get(name)
            if not parts:
                continue
            total_mw = sum(float(p_mw[t][rows].sum()) for t, rows in parts.items())
            for table, rows in parts.items():
                if abs(total_mw) > _ZERO_MW:
                    factor = award_mw / total_mw
                    p_mw[table][rows] *= factor
                    if table == "load":
                        q_mvar[table][rows] *= factor
                else:
                    p_mw[table][rows] = award_mw / sum(r.size for r in parts.values())
        return p_mw, q_mvar

    def _pattern(self, name: str, awards: dict[str, float], p_mw: dict) -> dict[str, np.ndarray]:
        """How 1 MW more of participant ``name`` spreads over its elements [MW per MW]."""
        parts = self.elements[name]
        total_mw = sum(float(p_mw[t][rows].sum()) for t, rows in parts.items())
        count = sum(rows.size for rows in parts.values())
        pattern = {}
        for table, rows in parts.items():
            weights = np.zeros(len(p_mw[table]))
            weights[rows] = p_mw[table][rows] / total_mw if abs(total_mw) > _ZERO_MW else 1.0 / count
            pattern[table] = weights
        return pattern


def _apply(block, mw: float, offers_mw: list, bids_mw: list) -> None:
    """Move the accepted MW of the block's order by ``mw``."""
    if block.side == "offer":
        offers_mw[block.order] += mw if block.up else -mw
    elif block.side == "bid":
        bids_mw[block.order] += -mw if block.up else mw


def _describe(assessment, c: int) -> str:
    relation = ">" if assessment.sign[c] > 0 else "<"
    return f"{assessment.names[c]} {assessment.value[c]:.4g} {relation} {assessment.limit[c]:.4g}"


def _listed(items: list[str], most: int = 5) -> str:
    extra = f" and {len(items) - most} more" if len(items) > most else ""
    return "; ".join(items[:most]) + extra


def _clock(rt, start_ms: int) -> str:
    """The interval's start as local clock time, ``2016-06-01 19:00``."""
    import datetime as _dt

    moment = rt.scenario.time.start + _dt.timedelta(milliseconds=int(start_ms))
    return moment.strftime("%Y-%m-%d %H:%M")
