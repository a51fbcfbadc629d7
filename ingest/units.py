"""Unit conversion for mapped fields: a small explicit table, never a guess.

A protocol field says the unit it stores (FieldSpec.unit); a mapping says the unit the publisher's
column is in (`{from: DIAM_IN, unit: in}`). Only units of the same kind convert, by one factor.
"""

from __future__ import annotations

from ingest.errors import ConfigError

# unit -> (kind, how many of the kind's base unit one of it is)
UNITS: dict[str, tuple[str, float]] = {
    "mm": ("length", 0.001),
    "cm": ("length", 0.01),
    "m": ("length", 1.0),
    "km": ("length", 1000.0),
    "in": ("length", 0.0254),
    "ft": ("length", 0.3048),
    "yd": ("length", 0.9144),
    "mi": ("length", 1609.344),
    "m2": ("area", 1.0),
    "ha": ("area", 10_000.0),
    "km2": ("area", 1_000_000.0),
    "acre": ("area", 4046.8564224),
    "W": ("power", 1.0),
    "kW": ("power", 1000.0),
    "MW": ("power", 1_000_000.0),
    "l": ("volume", 0.001),
    "m3": ("volume", 1.0),
    "bar": ("pressure", 100_000.0),
    "kPa": ("pressure", 1000.0),
    "psi": ("pressure", 6894.757293168),
}


def factor(from_unit: str, to_unit: str) -> float:
    """What to multiply a value in from_unit by to get it in to_unit."""
    for unit in (from_unit, to_unit):
        if unit not in UNITS:
            raise ConfigError(f"unknown unit {unit!r}; regiongis converts {', '.join(UNITS)}")
    (from_kind, from_base), (to_kind, to_base) = UNITS[from_unit], UNITS[to_unit]
    if from_kind != to_kind:
        raise ConfigError(
            f"cannot convert {from_unit!r} ({from_kind}) to {to_unit!r} ({to_kind}); "
            "check the `unit` in the source's mapping"
        )
    return from_base / to_base
