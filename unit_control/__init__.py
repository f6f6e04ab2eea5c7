"""Tier 1, unit control: controllers on single devices (vectorised over groups)."""
from unit_control.base import Capability, Command, Observation, UnitPolicy

__all__ = ["UnitPolicy", "Observation", "Command", "Capability"]
