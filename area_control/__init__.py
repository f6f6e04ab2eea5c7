"""Tier 2, area control: balance each region, trade its flexibility, dispatch awards."""
from area_control.base import AreaAction, AreaCoordinator, AreaState

__all__ = ["AreaCoordinator", "AreaState", "AreaAction"]
