"""The ingest pipeline: read -> harmonise -> validate -> load, chained by one function.

Invariant: input = loaded + quarantined, for every run. A run that fails part-way is marked failed
with its reason and leaves the live data exactly as it was.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from ingest import issues
from ingest.db import transaction
from ingest.harmonise import harmonise
from ingest.load import ensure_schema, quarantine_rows, record_issues, replace_source_rows
from ingest.read import read_source
from ingest.region import Region, Source
from ingest.validate import validate
from protocols import Protocols, ThemeSpec


@dataclass
class RunResult:
    source: str
    theme: str
    input: int
    loaded: int
    quarantined: int
    run_id: int | None = None
    issues: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.source}: {self.input} read, {self.loaded} loaded into {self.theme}, "
            f"{self.quarantined} quarantined"
        )


@dataclass
class Checked:
    """A file taken through every phase but load: what would be loaded and what would not."""

    raw: gpd.GeoDataFrame
    clean: gpd.GeoDataFrame
    issues: pd.DataFrame

    @property
    def reasons(self) -> pd.Series:
        return issues.reasons_by_row(self.issues)

    @property
    def loadable(self) -> gpd.GeoDataFrame:
        return self.clean.drop(index=issues.rows_with_errors(self.issues))

    def result(self, source: Source, run_id: int | None = None) -> RunResult:
        quarantined = len(self.reasons)
        return RunResult(
            source=source.id,
            theme=source.theme,
            input=len(self.raw),
            loaded=len(self.raw) - quarantined,
            quarantined=quarantined,
            run_id=run_id,
            issues=self.issues["rule"].value_counts().to_dict(),
        )


def check_file(path: Path, source: Source, region: Region, protocols: Protocols) -> Checked:
    theme = protocols.themes[source.theme]
    raw = read_source(path, source)
    harmonised, field_issues = harmonise(raw, source, theme, protocols)
    clean, geometry_issues = validate(harmonised, theme, region.region.bbox)
    return Checked(raw=raw, clean=clean, issues=issues.concat([field_issues, geometry_issues]))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _start_run(url: str, path: Path, source: Source, theme: ThemeSpec) -> int:
    with transaction(url) as cur:
        cur.execute(
            "INSERT INTO ingest_run (source, publisher, theme, protocol, file_name, file_sha256) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
            (source.id, source.publisher, theme.id, theme.ref, path.name, _sha256(path)),
        )
        return cur.fetchone()[0]


def _fail_run(url: str, run_id: int, message: str) -> None:
    with transaction(url) as cur:
        cur.execute(
            "UPDATE ingest_run SET status = 'failed', finished_at = now(), message = %s "
            "WHERE id = %s",
            (message, run_id),
        )


def ingest_file(
    url: str, path: Path, source: Source, region: Region, protocols: Protocols
) -> RunResult:
    """Load one publisher file for one source, replacing that source's previous contribution."""
    theme = protocols.themes[source.theme]
    with transaction(url) as cur:
        ensure_schema(cur, list(protocols.themes.values()))
    run_id = _start_run(url, path, source, theme)
    try:
        checked = check_file(path, source, region, protocols)
        result = checked.result(source, run_id)
        with transaction(url) as cur:
            replace_source_rows(
                cur,
                theme,
                checked.loadable,
                publisher=source.publisher,
                source=source.id,
                run_id=run_id,
            )
            quarantine_rows(
                cur,
                theme,
                checked.raw,
                checked.clean.geometry,
                checked.reasons,
                source=source.id,
                run_id=run_id,
            )
            record_issues(cur, checked.issues, run_id)
            cur.execute(
                "UPDATE ingest_run SET status = 'succeeded', finished_at = now(), input = %s, "
                "loaded = %s, quarantined = %s WHERE id = %s",
                (result.input, result.loaded, result.quarantined, run_id),
            )
    except Exception as exc:
        _fail_run(url, run_id, str(exc))
        raise
    return result


def ingest_region(url: str, region: Region, protocols: Protocols) -> list[RunResult]:
    """Ingest every configured source from the region's data folder."""
    return [
        ingest_file(url, region.data_dir / source.file, source, region, protocols)
        for source in region.sources.values()
    ]
