"""The plant: one pandapower network under profiles, events and unit outputs.

The only object the engine asks about physics. It keeps every injection as
a numpy array in pandapower's table row order and sign convention (load and
storage consumption positive, sgen/gen generation positive), hands them to
:class:`~hierarchy.plant.powerflow.PowerFlow`, and turns the solution into
the measurements the tiers see. Unit outputs come in with hiergrid's sign
convention (generation positive) and are converted here, once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hierarchy.plant.powerflow import PowerFlow
from hierarchy.plant.profiles import Profiles
from hierarchy.plant.topology import element_bus

__all__ = ["Plant", "INJECTION_TABLES"]

#: tables whose active power the plant sets, with the sign that turns
#: "generation positive" into pandapower's convention
INJECTION_TABLES = {"load": -1.0, "sgen": 1.0, "storage": -1.0, "gen": 1.0}


@dataclass
class _Table:
    p_mw: np.ndarray  # pandapower sign
    q_mvar: np.ndarray
    base_p_mw: np.ndarray  # profile value this step, pandapower sign
    base_q_mvar: np.ndarray
    in_service: np.ndarray  # bool
    offset_p_mw: np.ndarray  # persistent event changes (load steps), pandapower sign


class Plant:
    """Network, profiles and power flow of one run.

    Parameters
    ----------
    net : pandapowerNet
        The network (the plant keeps its own copy inside the power flow).
    profiles : Profiles
        Injection profiles, one row per physics step.
    backend : str
        Power-flow backend: ``lightsim2grid`` or ``pandapower``.
    """

    def __init__(self, net, profiles: Profiles, backend: str = "lightsim2grid"):
        self.net = net
        self.profiles = profiles
        self.powerflow = PowerFlow(net, backend=backend)
        self.bus_index = np.asarray(net.bus.index)
        self._bus_pos = {int(b): k for k, b in enumerate(self.bus_index)}
        self.tables: dict[str, _Table] = {}
        for table in INJECTION_TABLES:
            frame = net[table]
            n = len(frame)
            q = frame["q_mvar"].to_numpy(dtype=float) if n and "q_mvar" in frame else np.zeros(n)
            in_service = frame["in_service"].to_numpy(dtype=bool) if n else np.zeros(0, bool)
            self.tables[table] = _Table(
                np.zeros(n), q.copy(), np.zeros(n), q.copy(), in_service, np.zeros(n)
            )
        self.line_in_service = net.line["in_service"].to_numpy(dtype=bool).copy()
        self._element_bus_pos: dict[str, np.ndarray] = {}
        #: consumption factor per load, ``1 + D·Δf/f0`` in islands with a frequency
        #: deviation (load damping, set by the frequency model), else 1
        self.load_factor = np.ones(len(net.load))
        #: fraction of each load's demand connected [pu]: 1, less where
        #: under-frequency load shedding opened stages (set by the frequency model)
        self.load_served = np.ones(len(net.load))
        self._load_p_buffer_mw = np.zeros(len(net.load))  # consumption as solved
        self._load_q_buffer_mvar = np.zeros(len(net.load))
        #: changes whenever a profile value or an element's service changes (the
        #: key under which ``Runtime.profile_inputs`` keeps :meth:`available_mw`)
        self.inputs_version = 0
        # an initial solve on the first profile row gives the controllers a
        # voltage to start from
        if profiles.time_ms.size:
            self.begin_step(0)
            self.solve()

    # ----------------------------------------------------------------- profiles
    def begin_step(self, k: int) -> None:
        """Load the profile row ``k`` as this step's base injections."""
        self.inputs_version += 1
        rows = {
            "load": (self.profiles.load_p_mw, self.profiles.load_q_mvar),
            "sgen": (self.profiles.sgen_p_mw, None),
            "storage": (self.profiles.storage_p_mw, None),
            "gen": (self.profiles.gen_p_mw, None),
        }
        for table, (p_rows, q_rows) in rows.items():
            t = self.tables[table]
            if t.p_mw.size == 0:
                continue
            t.base_p_mw[:] = p_rows[k] + t.offset_p_mw
            if q_rows is not None:
                t.base_q_mvar[:] = q_rows[k]
            t.p_mw[:] = t.base_p_mw * t.in_service
            t.q_mvar[:] = t.base_q_mvar * t.in_service

    def available_mw(self, table: str, positions: np.ndarray) -> np.ndarray:
        """Profile output of elements this step, generation positive [MW]."""
        t = self.tables[table]
        return INJECTION_TABLES[table] * t.base_p_mw[positions] * t.in_service[positions]

    def base_q_mvar(self, table: str, positions: np.ndarray) -> np.ndarray:
        """Profile reactive power, injection positive [Mvar]."""
        t = self.tables[table]
        return INJECTION_TABLES[table] * t.base_q_mvar[positions] * t.in_service[positions]

    # ------------------------------------------------------------ unit outputs
    def set_output(self, table: str, positions: np.ndarray, p_mw: np.ndarray, q_mvar: np.ndarray) -> None:
        """Set elements' output, generation/injection positive [MW], [Mvar]."""
        t = self.tables[table]
        sign = INJECTION_TABLES[table]
        live = t.in_service[positions]
        t.p_mw[positions] = sign * p_mw * live
        t.q_mvar[positions] = sign * q_mvar * live

    def output(self, table: str, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Current output of elements, generation positive [MW], [Mvar]."""
        t = self.tables[table]
        sign = INJECTION_TABLES[table]
        return sign * t.p_mw[positions], sign * t.q_mvar[positions]

    # ------------------------------------------------------------------ solve
    def solve(self) -> bool:
        """Solve the power flow with the current injections; True if converged."""
        t = self.tables
        load = t["load"]
        p_mw, q_mvar = self._load_p_buffer_mw, self._load_q_buffer_mvar  # reused, no allocation
        np.multiply(load.p_mw, self.load_factor, out=p_mw)
        np.multiply(p_mw, self.load_served, out=p_mw)
        np.multiply(load.q_mvar, self.load_served, out=q_mvar)
        return self.powerflow.solve_unchecked(p_mw, q_mvar, t["sgen"].p_mw, t["sgen"].q_mvar,
                                            t["storage"].p_mw, t["storage"].q_mvar, t["gen"].p_mw)

    @property
    def load_p_mw(self) -> np.ndarray:
        """Consumption of every load as solved, with load damping and shedding [MW] (consumption +)."""
        return self.tables["load"].p_mw * self.load_factor * self.load_served

    @property
    def load_shed_mw(self) -> np.ndarray:
        """Demand of every load disconnected by load shedding [MW] (>= 0)."""
        return self.tables["load"].p_mw * (1.0 - self.load_served)

    @property
    def vm_pu(self) -> np.ndarray:
        return self.powerflow.vm_pu

    def bus_positions(self, buses) -> np.ndarray:
        """Positions in the bus table of bus indices."""
        return np.array([self._bus_pos[int(b)] for b in buses], dtype=int)

    def element_bus_positions(self, table: str, positions: np.ndarray) -> np.ndarray:
        """Bus-table positions of the buses of elements at ``positions``."""
        return self.bus_positions(element_bus(self.net, table)[positions])

    def element_positions(self, table: str) -> np.ndarray:
        """Bus-table position of every element of ``table`` (cached)."""
        if table not in self._element_bus_pos:
            self._element_bus_pos[table] = self.element_bus_positions(
                table, np.arange(len(self.net[table])))
        return self._element_bus_pos[table]

    def energised(self, table: str) -> np.ndarray:
        """1.0 for each element of ``table`` whose bus has a voltage, else 0.0."""
        return np.isfinite(self.vm_pu[self.element_positions(table)]).astype(float)

    def block(self, k0: int, k1: int) -> tuple[dict, np.ndarray, np.ndarray]:
        """Injections of profile rows ``k0 … k1−1`` at once, as :meth:`begin_step` sets them.

        Returns
        -------
        p_mw : dict
            Per injection table, ``(k1 − k0, n)`` active power [MW], pandapower's signs.
        load_p_mw : ndarray
            Consumption as :meth:`solve` hands it on (load damping and shedding in).
        stacked : ndarray
            Complex ``P + jQ`` rows for :meth:`PowerFlow.solve_many`
            (load, sgen, storage, gen), what :meth:`solve` would pass row by row.
        """
        profile = {"load": self.profiles.load_p_mw, "sgen": self.profiles.sgen_p_mw,
                   "storage": self.profiles.storage_p_mw, "gen": self.profiles.gen_p_mw}
        p_mw, q_mvar = {}, {}
        for table, t in self.tables.items():
            n = t.p_mw.size
            rows = profile[table][k0:k1] if n else np.zeros((k1 - k0, 0))
            p_mw[table] = (rows + t.offset_p_mw) * t.in_service
            base_q = self.profiles.load_q_mvar[k0:k1] if table == "load" and n else t.base_q_mvar
            q_mvar[table] = np.broadcast_to(base_q * t.in_service, p_mw[table].shape)
        load_p_mw = p_mw["load"] * self.load_factor * self.load_served
        load_q_mvar = q_mvar["load"] * self.load_served
        stacked = np.concatenate([load_p_mw + 1j * load_q_mvar,
                                  p_mw["sgen"] + 1j * q_mvar["sgen"],
                                  p_mw["storage"] + 1j * q_mvar["storage"],
                                  p_mw["gen"] + 0j], axis=1)
        return p_mw, load_p_mw, stacked

    # ----------------------------------------------------------------- events
    def add_load(self, position: int, delta_mw: float) -> None:
        """Change a load's demand persistently by ``delta_mw`` [MW] (consumption +)."""
        self.inputs_version += 1
        t = self.tables["load"]
        t.offset_p_mw[position] += delta_mw
        t.base_p_mw[position] += delta_mw
        t.p_mw[position] = t.base_p_mw[position] * t.in_service[position]

    def trip(self, table: str, position: int) -> None:
        """Take an element out of service (its output goes to zero)."""
        self.inputs_version += 1
        if table in self.tables:
            t = self.tables[table]
            t.in_service[position] = False
            t.p_mw[position] = 0.0
            t.q_mvar[position] = 0.0
        self.powerflow.set_in_service(table, position, False)

    def set_line(self, position: int, in_service: bool) -> None:
        """Open or close a line (topology change)."""
        self.line_in_service[position] = in_service
        self.powerflow.set_in_service("line", position, in_service)
