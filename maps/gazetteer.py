"""Real East Midlands towns for the map's place search (WGS84 town centres, to about 100 m).

Towns are real places; only the demo's publishers are invented. A deployment elsewhere passes its
own list of places to build_regional_map.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Place:
    name: str
    lat: float
    lon: float


EAST_MIDLANDS = (
    Place("Arnold", 53.0044, -1.1270),
    Place("Beeston", 52.9261, -1.2152),
    Place("Bingham", 52.9520, -0.9530),
    Place("Bottesford", 52.9430, -0.8030),
    Place("Carlton", 52.9650, -1.0870),
    Place("Coalville", 52.7220, -1.3700),
    Place("Grantham", 52.9119, -0.6425),
    Place("Hucknall", 53.0380, -1.2050),
    Place("Ilkeston", 52.9700, -1.3090),
    Place("Keyworth", 52.8700, -1.0900),
    Place("Leicester", 52.6369, -1.1398),
    Place("Long Eaton", 52.8980, -1.2710),
    Place("Loughborough", 52.7721, -1.2062),
    Place("Mansfield", 53.1450, -1.1980),
    Place("Melton Mowbray", 52.7661, -0.8860),
    Place("Newark-on-Trent", 53.0760, -0.8080),
    Place("Nottingham", 52.9548, -1.1581),
    Place("Oakham", 52.6700, -0.7270),
    Place("Ollerton", 53.2000, -1.0200),
    Place("Radcliffe on Trent", 52.9470, -1.0400),
    Place("Ruddington", 52.8920, -1.1500),
    Place("Shepshed", 52.7710, -1.2940),
    Place("Southwell", 53.0770, -0.9550),
    Place("Syston", 52.7000, -1.0780),
    Place("West Bridgford", 52.9293, -1.1272),
)
