"""Run reports for publishers: what was loaded, what was not and why, and what to fix.

One Report is built from a dry run (a DryRun) or from a run in the database (its ingest_run row,
issue_log and quarantine), and written as JSON (for machines) and as one self-contained HTML page
(no scripts, no external URLs: the map of rejected features is inline SVG). Every value that came
from a publisher is escaped by Jinja2's autoescape.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from jinja2 import Environment, PackageLoader

from ingest import issues
from ingest.boundaries import issue_counts
from ingest.coordinates import attributes, geometry_of
from ingest.db import transaction
from ingest.errors import RegionGISError
from ingest.region import Source
from ingest.validate import absent

EXAMPLES = 5
LISTED = 10_000  # issue-log rows and quarantined features a report lists; its counts are whole
SHOWN = 100  # quarantined features the HTML page shows
MAP_FEATURES = 2000
MAP_PIXELS = 640
MERGE_COUNTS = ["inserted", "updated", "unchanged", "retired"]
COUNTS = ["input", "loaded", "quarantined", *MERGE_COUNTS]


@dataclass
class Digest:
    """An issue log as a report shows it: exact counts by rule, the first EXAMPLES issues of
    each rule and the first LISTED issues, by row. However long the log (a file whose every
    feature breaks a rule makes one as long as the file), a digest holds no more than that."""

    tally: pd.DataFrame  # by rule: count, features, severity
    examples: pd.DataFrame
    listed: pd.DataFrame

    @classmethod
    def of(cls, found: pd.DataFrame) -> Digest:
        found = found.sort_values("row", kind="stable")
        tally = found.groupby("rule").agg(
            count=("row", "size"), features=("row", "nunique"), severity=("severity", "first")
        )
        return cls(tally, found.groupby("rule").head(EXAMPLES), found.head(LISTED))

    def then(self, later: Digest) -> Digest:
        """This digest followed by a later batch's (whose rows all come after these)."""
        if later.tally.empty:
            return self
        if self.tally.empty:
            return later
        tally = pd.concat([self.tally, later.tally]).groupby(level=0)
        return Digest(
            tally.agg({"count": "sum", "features": "sum", "severity": "first"}),
            pd.concat([self.examples, later.examples]).groupby("rule").head(EXAMPLES),
            pd.concat([self.listed, later.listed]).head(LISTED),
        )

    @property
    def counts(self) -> dict[str, int]:
        return {rule: int(n) for rule, n in self.tally["count"].items()}


@dataclass
class Report:
    summary: dict[str, Any]
    digest: Digest
    quarantined: gpd.GeoDataFrame  # the first LISTED: row, reason, attributes, geometry as stored
    region_bbox: tuple[float, float, float, float] | None = None
    sample: gpd.GeoDataFrame | None = None  # a dry run's first features, as they would load

    @property
    def filtered(self) -> int:
        tally = self.digest.tally
        return int(tally.loc["filtered-out", "features"]) if "filtered-out" in tally.index else 0

    def rules(self) -> list[dict[str, Any]]:
        """Issues grouped by rule, most frequent first, each with a few examples and the fix."""
        examples, groups = self.digest.examples, []
        for rule, row in self.digest.tally.sort_values("count", ascending=False).iterrows():
            sample = examples[examples["rule"] == rule].drop(columns=["rule", "severity"])
            groups.append(
                {
                    "rule": rule,
                    "count": int(row["count"]),
                    "features": int(row["features"]),
                    "severity": row["severity"],
                    "fix": issues.fix_for(rule),
                    "examples": _records(sample),
                }
            )
        return groups

    def to_dict(self) -> dict[str, Any]:
        shown = {} if self.sample is None else {"sample": _records(_with_wkt(self.sample))}
        listed = self.digest.listed
        not_listed = {
            "issue_log": sum(self.digest.counts.values()) - len(listed),
            "quarantine": (self.summary.get("quarantined") or 0) - len(self.quarantined),
        }
        return {
            **self.summary,
            "filtered": self.filtered,
            "rules": self.rules(),
            "issue_log": _records(listed),
            "quarantine": _records(_with_wkt(self.quarantined)),
            "not_listed": not_listed,  # beyond the first LISTED of each list; counted above
            **shown,
        }

    def to_html(self) -> str:
        env = Environment(loader=PackageLoader("ingest", "templates"), autoescape=True)
        summary = self.summary
        counts = {k: summary[k] for k in COUNTS if summary.get(k) is not None}
        quarantined = _records(self.quarantined.drop(columns="geometry").head(SHOWN))
        for record in quarantined:  # shown as the JSON text the publisher's values make
            record["attributes"] = json.dumps(record["attributes"], ensure_ascii=False)
        return env.get_template("report.html.j2").render(
            summary=summary,
            counts=counts,
            filtered=self.filtered,
            rules=self.rules(),
            quarantined=quarantined,
            map=_svg_map(self.quarantined, self.region_bbox),
            sample=None if self.sample is None else _records(_with_wkt(self.sample)),
            listed=f"{LISTED:,}",
            not_shown=(summary.get("quarantined") or 0) - len(quarantined),
            not_listed=(summary.get("quarantined") or 0) - len(self.quarantined),
        )

    def write(self, folder: Path, stem: str) -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        json_path, html_path = folder / f"{stem}.json", folder / f"{stem}.html"
        json_path.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1, default=str))
        html_path.write_text(self.to_html(), encoding="utf-8")
        return json_path, html_path


def _with_wkt(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """The frame with its geometry as WKT (to the millimetre in a projected CRS), and a column
    of plain dates (midnight, no time zone) written as dates, not timestamps."""
    plain = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    for name, values in plain.items():
        if pd.api.types.is_datetime64_dtype(values) and (values.dt.normalize() == values).all():
            plain[name] = values.dt.strftime("%Y-%m-%d").astype(object).where(values.notna())
    plain["wkt"] = shapely.to_wkt(frame.geometry.values, rounding_precision=3)
    return plain


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-safe records: NaN, NaT and infinities become null, timestamps ISO text."""
    text = frame.to_json(orient="records", date_format="iso", default_handler=str)
    return json.loads(text, parse_constant=lambda _: None)


@dataclass
class MapFeature:
    row: Any
    reason: str
    svg: str  # shapely's SVG of our own geometry: numbers and fixed markup only


def _svg_map(quarantined: gpd.GeoDataFrame, bbox: tuple | None) -> dict[str, Any] | None:
    """An SVG drawing of the rejected features that have drawable coordinates, with the region."""
    geoms = quarantined.geometry
    drawable = ~absent(geoms) & ~geoms.is_empty
    coords, at = shapely.get_coordinates(geoms.values, return_index=True)
    finite_rows = np.unique(at[np.isfinite(coords).all(axis=1)])
    drawable &= pd.Series(np.isin(np.arange(len(geoms)), finite_rows), index=geoms.index)
    shown = quarantined[drawable].head(MAP_FEATURES)
    if shown.empty:
        return None
    minx, miny, maxx, maxy = shown.total_bounds
    if bbox:
        minx, miny = min(minx, bbox[0]), min(miny, bbox[1])
        maxx, maxy = max(maxx, bbox[2]), max(maxy, bbox[3])
    size = max(maxx - minx, maxy - miny, 1.0)
    pad, scale = size * 0.03, size / MAP_PIXELS
    simplified = shapely.simplify(shown.geometry.values, scale)
    features = [
        MapFeature(row, reason, geom.svg(scale_factor=2 * scale))
        for row, reason, geom in zip(shown["row"], shown["reason"], simplified, strict=True)
    ]
    return {
        "view_box": f"{minx - pad} {miny - pad} {maxx - minx + 2 * pad} {maxy - miny + 2 * pad}",
        "flip": f"matrix(1 0 0 -1 0 {miny + maxy})",
        "region": None if not bbox else shapely.box(*bbox).exterior.coords[:],
        "stroke": scale,
        "features": features,
        "left_out": int(drawable.sum()) - len(features),
        "undrawable": int((~drawable).sum()),
    }


def rejected(checked: Any, at_most: int) -> gpd.GeoDataFrame:
    """A checked batch's first features that would go to quarantine: row, reason, the
    attributes as the publisher sent them, the geometry as harmonised."""
    reasons = checked.reasons.head(at_most)
    return gpd.GeoDataFrame(
        {
            "row": reasons.index,
            "reason": reasons.to_numpy(),
            "attributes": _records(attributes(checked.raw.loc[reasons.index])),
        },
        geometry=geometry_of(checked.clean, reasons.index).to_numpy(),
    )


def from_dry_run(
    dry: Any, source: Source, file_name: str, region_bbox: tuple | None = None
) -> Report:
    """The report of a dry run: what ingest would load, quarantine and log."""
    summary = asdict(dry.result(source)) | {"file": file_name, "dry_run": True}
    # only a load knows what it would change
    summary |= dry.reprojection | dict.fromkeys(MERGE_COUNTS)
    sample = dry.sample.rename_axis("row").reset_index()  # the row, to find each in the file
    return Report(summary, dry.digest, dry.quarantined, region_bbox, sample=sample)


def _query(cur, statement: str, *params: object) -> pd.DataFrame:
    cur.execute(statement, params)
    return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])


def _digest(cur, run_id: int) -> Digest:
    """A run's issue log digested by PostgreSQL, however long it is."""
    tally = _query(
        cur,
        "SELECT rule, count(*) AS count, count(DISTINCT source_row) AS features, "
        "min(severity) AS severity FROM issue_log WHERE run_id = %s GROUP BY rule",
        run_id,
    )
    examples = _query(
        cur,
        "SELECT source_row AS row, field, rule, severity, message, value FROM (SELECT *, "
        "row_number() OVER (PARTITION BY rule ORDER BY source_row) AS n FROM issue_log "
        "WHERE run_id = %s) i WHERE n <= %s ORDER BY source_row",
        run_id,
        EXAMPLES,
    )
    listed = _query(
        cur,
        "SELECT source_row AS row, field, rule, severity, message, value FROM issue_log "
        "WHERE run_id = %s ORDER BY source_row LIMIT %s",
        run_id,
        LISTED,
    )
    return Digest(tally.set_index("rule"), examples, listed)


def _boundary_counts(cur, run_id: int) -> dict[str, int]:
    """What the cross-boundary checks after this run found; none where they never ran."""
    cur.execute("SELECT to_regclass('boundary_check') IS NOT NULL")
    return issue_counts(cur, run_id=run_id) if cur.fetchone()[0] else {}


def from_run(url: str, run_id: int, region_bbox: tuple | None = None) -> Report:
    """The report of a run already in the database, from its run row, issue log and quarantine."""
    with transaction(url) as cur:
        run = _query(cur, "SELECT * FROM ingest_run WHERE id = %s", run_id)
        digest = _digest(cur, run_id)
        kept = _query(
            cur,
            "SELECT source_row AS row, reason, attributes, ST_AsBinary(geom) AS wkb "
            "FROM quarantine WHERE run_id = %s ORDER BY source_row LIMIT %s",
            run_id,
            LISTED,
        )
        crossings = _boundary_counts(cur, run_id)
    if run.empty:
        raise RegionGISError(f"no ingest run {run_id} in the database")
    record = _records(run.drop(columns=["id", "backend_pid"], errors="ignore"))[0]
    summary = record | {
        "run_id": run_id,
        "issues": digest.counts,
        "file": record["file_name"],
        "dry_run": False,
        "boundary_issues": crossings,
    }
    geometry = shapely.from_wkb([bytes(b) if b is not None else None for b in kept.pop("wkb")])
    return Report(summary, digest, gpd.GeoDataFrame(kept, geometry=geometry), region_bbox)
