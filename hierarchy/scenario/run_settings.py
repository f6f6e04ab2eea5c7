"""Scenario sections that set up the run: grid, time, profiles, control, frequency, outputs.

Part of the typed scenario model (DESIGN.md, "Scenario file (v1)"), built
of the field types of :mod:`hierarchy.scenario.schema`; the sections of
the controlled system (areas, units, links, events) are in
:mod:`hierarchy.scenario.sections`, the market in :mod:`hierarchy.scenario.market`.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import (
    Discriminator,
    Field,
    Strict,
    Tag,
    field_validator,
    model_validator,
)

from hierarchy.kernel.durations import format_duration
from hierarchy.scenario.schema import (
    Config,
    FilePath,
    FiniteFloat,
    KeyPathError,
    PositiveDuration,
    StartTime,
    StrictBool,
    StrictInt,
    _resolve_path,
)

__all__ = ["UpstreamMachine", "GridConfig", "TimeConfig", "ProfilesConfig", "ControlConfig",
           "FrequencyConfig", "OutputsConfig"]


class UpstreamMachine(Config):
    """The upstream grid as one finite synchronous machine (swing equation, DESIGN.md)."""

    h_s: FiniteFloat = Field(gt=0, description="inertia constant [s]")
    s_mva: FiniteFloat = Field(gt=0, description="rating [MVA]")
    droop: FiniteFloat = Field(0.05, gt=0, description="governor droop [pu]")
    damping_pu: FiniteFloat = Field(1.0, ge=0, description="load damping [pu/pu]")


def _upstream_tag(value: Any) -> str | None:
    if isinstance(value, str):
        return "infinite"
    if isinstance(value, (Mapping, UpstreamMachine)):
        return "machine"
    return None


Upstream = Annotated[
    Union[Annotated[Literal["infinite"], Tag("infinite")],
          Annotated[UpstreamMachine, Tag("machine")]],
    Discriminator(_upstream_tag, custom_error_type="upstream_type",
                  custom_error_message="expected 'infinite' or {h_s, s_mva, droop, damping_pu}"),
]


_GRID_KEY = {"simbench": "code", "pandapower": "name", "file": "path"}


class GridConfig(Config):
    """The network: ``source`` with ``code`` (simbench), ``name``/``options`` or ``path``."""

    source: Literal["pandapower", "simbench", "file"]
    code: Annotated[str, Strict()] | None = None
    name: Annotated[str, Strict()] | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    path: FilePath | None = None
    f0_hz: FiniteFloat = Field(50.0, gt=0, description="nominal frequency [Hz]")
    upstream: Upstream = "infinite"
    solver: Literal["lightsim2grid", "pandapower"] = "lightsim2grid"

    _resolve = field_validator("path")(_resolve_path)

    @model_validator(mode="after")
    def _check_source(self) -> GridConfig:
        needed = _GRID_KEY[self.source]
        if getattr(self, needed) is None:
            raise KeyPathError((needed,), f"required when grid.source is {self.source}")
        for key in _GRID_KEY.values():
            if key != needed and getattr(self, key) is not None:
                raise KeyPathError((key,), f"not used with grid.source {self.source} "
                                           f"(it takes {needed})")
        if self.options and self.source != "pandapower":
            raise KeyPathError(("options",), "only used with grid.source pandapower")
        if self.name is not None and not self.name.isidentifier():
            raise KeyPathError(("name",), f"{self.name!r} is not a function name of "
                                          "pandapower.networks (e.g. create_cigre_network_mv)")
        return self


class TimeConfig(Config):
    """Start, length and physics step of the run."""

    start: StartTime = datetime(2016, 1, 1)
    duration: PositiveDuration
    step: PositiveDuration

    @model_validator(mode="after")
    def _check_step(self) -> TimeConfig:
        if self.step > self.duration:
            raise KeyPathError(("step",), f"{format_duration(self.step)} is longer than "
                                          f"time.duration ({format_duration(self.duration)})")
        return self


class ProfilesConfig(Config):
    """Where load and generation profiles come from (``path`` for ``csv`` only)."""

    source: Literal["simbench", "csv", "synthetic", "none"] = "synthetic"
    path: FilePath | None = None

    _resolve = field_validator("path")(_resolve_path)

    @model_validator(mode="after")
    def _check_path(self) -> ProfilesConfig:
        if self.source == "csv" and self.path is None:
            raise KeyPathError(("path",), "required when profiles.source is csv")
        if self.source != "csv" and self.path is not None:
            raise KeyPathError(("path",), "only used with profiles.source csv")
        return self


class ControlConfig(Config):
    """Fixed-point iteration of unit controllers and power flow within a step."""

    tol: FiniteFloat = Field(1e-4, gt=0, description="largest setpoint change [pu of rating]")
    max_iter: StrictInt = Field(10, ge=1)
    method: Literal["newton", "relaxation"] = Field(
        "newton", description="newton: Newton's method for voltage-local policies (volt-var, "
        "volt-watt), relaxation for the others; relaxation: relaxation for all")


class FrequencyConfig(Config):
    """Integration step of the frequency model while an island is not settled, and how
    the summary measures RoCoF and settling."""

    step: PositiveDuration = 100
    rocof_window: PositiveDuration = 500
    settling_band_hz: FiniteFloat = Field(0.01, gt=0, description="[Hz]")


class OutputsConfig(Config):
    """Results folder (default ``results/<name>``, relative to the working folder)."""

    dir: FilePath | None = None
    plots: StrictBool = True
