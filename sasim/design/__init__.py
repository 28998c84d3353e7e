"""The Design: the one frozen, checked IR shared by model, simulator, generator and mapper."""

from sasim.design.design import Design, Level, LevelKind, Loop, Tile
from sasim.design.lower import lower

__all__ = ["Design", "Level", "LevelKind", "Loop", "Tile", "lower"]
