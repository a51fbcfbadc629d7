"""The ingest pipeline: read -> harmonise -> validate -> load, chained by one function.

Invariant: input = loaded + quarantined, for every run. A run that fails part-way, or whose
process is killed, changes nothing: every batch is loaded (and merged) inside one transaction, and
its run is marked failed with the reason (at once, or by the next run of its source).

Files are read and checked in batches, so memory stays flat whatever the file's size.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd
from psycopg2.extensions import connection as Connection
from psycopg2.extensions import cursor as Cursor

from ingest import issues
from ingest.ahead import ahead
from ingest.collector import collecting_less
from ingest.coordinates import as_geodataframe
from ingest.db import connect, transaction
from ingest.harmonise import harmonise, prepare_reprojection, reprojection
from ingest.load import (
    Copier,
    Load,
    begin_load,
    ensure_schema,
    fail_dead_runs,
    finish_load,
    lock_source,
    quarantine_rows,
    record_issues,
    stage_rows,
)
from ingest.read import Batches, file_sha256, open_batches
from ingest.region import Region, Source
from ingest.report import LISTED, Digest, rejected
from ingest.validate import EarlierBatches, validate
from protocols import Protocols, ThemeSpec

Progress = Callable[[int, int | None], None]
"""Called after each batch with (features read so far, features in the file or None)."""
SAMPLE = 20  # features a dry run shows as they would load


@dataclass
class RunResult:
    source: str
    theme: str
    input: int
    loaded: int
    quarantined: int
    run_id: int | None = None
    issues: dict[str, int] = field(default_factory=dict)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0

    def summary(self) -> str:
        text = (
            f"{self.source}: {self.input} read, {self.loaded} loaded into {self.theme}, "
            f"{self.quarantined} quarantined"
        )
        if self.run_id is None:
            return text
        return (
            f"{text} ({self.inserted} new, {self.updated} changed, {self.unchanged} unchanged, "
            f"{self.retired} retired)"
        )


@dataclass
class Checked:
    """A batch taken through every phase but load: what would load and what would not.
    The frames are GeoDataFrames, or PointFrames and LineFrames for batches of plain points
    and lines (see ingest.coordinates)."""

    raw: pd.DataFrame
    clean: pd.DataFrame
    issues: pd.DataFrame

    @property
    def reasons(self) -> pd.Series:
        return issues.reasons_by_row(self.issues)

    @property
    def loadable(self) -> pd.DataFrame:
        """The clean frame less its rows with errors (itself when none has: most batches)."""
        errors = issues.rows_with_errors(self.issues)
        return self.clean.drop(index=errors) if len(errors) else self.clean


def _check(
    raw: pd.DataFrame,
    source: Source,
    region: Region,
    protocols: Protocols,
    earlier: EarlierBatches,
) -> Checked:
    """The one place harmonise and validate are called, for dry runs and loads alike."""
    theme = protocols.themes[source.theme]
    harmonised, field_issues = harmonise(raw, source, theme, protocols)
    clean, geometry_issues = validate(harmonised, theme, region.region.bbox, earlier=earlier)
    return Checked(raw=raw, clean=clean, issues=issues.concat([field_issues, geometry_issues]))


@contextmanager
def _opened(
    path: Path, source: Source, protocols: Protocols, batch_size: int | None
) -> Iterator[Batches]:
    """The file open for reading in batches, with the run's reprojection made ready."""
    with collecting_less(), open_batches(path, source, batch_size) as batches:
        prepare_reprojection(batches.crs, protocols.themes[source.theme].storage_crs)
        yield batches


@contextmanager
def _checking(
    batches: Batches,
    source: Source,
    region: Region,
    protocols: Protocols,
    *,
    key: bool,
    progress: Progress | None,
) -> Iterator[Iterator[Checked]]:
    """The batches, each checked a batch ahead; progress is told as each is done with.
    key: whether repeated natural keys are looked for across batches (see EarlierBatches)."""
    earlier = EarlierBatches(protocols.themes[source.theme], key=key)
    checks = (_check(raw, source, region, protocols, earlier) for raw in batches.frames)
    with ahead(checks) as checked:
        yield _told(checked, batches.total, progress)


def _told(
    checked: Iterator[Checked], total: int | None, progress: Progress | None
) -> Iterator[Checked]:
    done = 0
    for batch in checked:
        yield batch
        done += len(batch.raw)
        if progress is not None:
            progress(done, total)


@contextmanager
def _dry_checking(
    path: Path,
    source: Source,
    region: Region,
    protocols: Protocols,
    progress: Progress | None,
    batch_size: int | None,
) -> Iterator[tuple[Batches, Iterator[Checked]]]:
    """The open file and its batches through every phase but load. With no database to find
    repeated keys, every repeat rule looks across batches here."""
    with (
        _opened(path, source, protocols, batch_size) as batches,
        _checking(batches, source, region, protocols, key=True, progress=progress) as checked,
    ):
        yield batches, checked


def checked_batches(
    path: Path,
    source: Source,
    region: Region,
    protocols: Protocols,
    progress: Progress | None = None,
    batch_size: int | None = None,
) -> Iterator[Checked]:
    """The file batch by batch through every phase but load."""
    with _dry_checking(path, source, region, protocols, progress, batch_size) as (_, checked):
        yield from checked


@dataclass
class DryRun:
    """What loading a file would do: its counts, its issue log digested, the first features that
    would go to quarantine, and the first that would load, to show how the mapping reads them.
    Clean features leave with their batch and the lists stop at LISTED, so a dry run's memory
    does not follow the file's size (but for its keys, kept compactly to find repeats: see
    ingest.seen), nor its problems: a file where every feature is wrong is counted whole."""

    input: int
    digest: Digest
    held_back: int  # features that would go to quarantine, all of them
    quarantined: gpd.GeoDataFrame  # the first LISTED of them: row, reason, attributes, geometry
    sample: gpd.GeoDataFrame  # up to SAMPLE features as they would load
    reprojection: dict[str, str | None]  # the file's CRS, and how it reaches the storage CRS

    def result(self, source: Source) -> RunResult:
        return RunResult(
            source=source.id,
            theme=source.theme,
            input=self.input,
            loaded=self.input - self.held_back,
            quarantined=self.held_back,
            issues=self.digest.counts,
        )


def check_file(
    path: Path,
    source: Source,
    region: Region,
    protocols: Protocols,
    progress: Progress | None = None,
    batch_size: int | None = None,
) -> DryRun:
    """A dry run of one publisher file: nothing is written."""
    digest, held_back, quarantined, sample, count = Digest.of(issues.empty()), 0, [], [], 0
    with _dry_checking(path, source, region, protocols, progress, batch_size) as (batches, checked):
        moved = reprojection(batches.crs, protocols.themes[source.theme].storage_crs)
        for each in checked:
            count += len(each.raw)
            digest = digest.then(Digest.of(each.issues))
            held_back += len(issues.rows_with_errors(each.issues))
            if (room := LISTED - sum(map(len, quarantined))) > 0:
                quarantined.append(rejected(each, room))
            if (wanted := SAMPLE - sum(map(len, sample))) > 0:
                sample.append(as_geodataframe(each.loadable.head(wanted)))
    return DryRun(
        input=count,
        digest=digest,
        held_back=held_back,
        quarantined=pd.concat(quarantined, ignore_index=True),
        sample=pd.concat(sample),
        reprojection=moved,
    )


def _start_run(conn: Connection, batches: Batches, source: Source, theme: ThemeSpec) -> int:
    """Record the run as 'running' under the loading connection's pid, so that if the process
    dies the next run of the source can tell, and mark it failed; with how its coordinates
    reach the storage CRS."""
    moved = reprojection(batches.crs, theme.storage_crs)
    with conn, conn.cursor() as cur:
        fail_dead_runs(cur, source.id)
        cur.execute(
            "INSERT INTO ingest_run (source, publisher, theme, protocol, file_name, backend_pid,"
            " source_crs, transformation)"
            " VALUES (%s, %s, %s, %s, %s, pg_backend_pid(), %s, %s) RETURNING id",
            (source.id, source.publisher, theme.id, theme.ref, batches.path.name)
            + (moved["source_crs"], moved["transformation"]),
        )
        return cur.fetchone()[0]


def _fail_run(url: str, run_id: int, message: str, path: Path) -> None:
    with transaction(url) as cur:
        cur.execute(
            "UPDATE ingest_run SET status = 'failed', finished_at = now(), message = %s, "
            "file_sha256 = %s WHERE id = %s",
            (message, file_sha256(path), run_id),
        )


def _finish_run(cur: Cursor, result: RunResult, digest: Future[str]) -> None:
    cur.execute(
        "UPDATE ingest_run SET status = 'succeeded', finished_at = clock_timestamp(), "
        "input = %s, loaded = %s, quarantined = %s, inserted = %s, updated = %s, "
        "unchanged = %s, retired = %s, file_sha256 = %s WHERE id = %s",
        (
            result.input,
            result.loaded,
            result.quarantined,
            result.inserted,
            result.updated,
            result.unchanged,
            result.retired,
            digest.result(),
            result.run_id,
        ),
    )


def _stage(copy: Copier, theme: ThemeSpec, checked: Checked, load: Load) -> tuple[int, int]:
    """One checked batch on its way to the live table, its quarantine and issue log:
    (staged, quarantined)."""
    loadable, reasons = checked.loadable, checked.reasons
    stage_rows(copy, theme, loadable, load)
    quarantine_rows(
        copy, theme, checked.raw, checked.clean, reasons, source=load.source, run_id=load.run_id
    )
    record_issues(copy, checked.issues, load.run_id)
    return len(loadable), len(reasons)


def _load(
    cur: Cursor,
    batches: Batches,
    source: Source,
    region: Region,
    protocols: Protocols,
    run_id: int,
    progress: Progress | None,
) -> RunResult:
    """Every batch on its way to the live table as it is checked (staged, inserted or copied:
    see begin_load), then merged or indexed: all in the caller's transaction, under the
    source's lock."""
    theme = protocols.themes[source.theme]
    at = lock_source(cur, source.id)
    fail_dead_runs(cur, source.id)  # again: a killed run's backend may only now have let go
    load = begin_load(
        cur,
        theme,
        publisher=source.publisher,
        source=source.id,
        run_id=run_id,
        at=at,
        expected=batches.total,
    )
    result = RunResult(source.id, theme.id, input=0, loaded=0, quarantined=0, run_id=run_id)
    found: Counter[str] = Counter()
    staged = 0
    checking = _checking(batches, source, region, protocols, key=False, progress=progress)
    with Copier(cur) as copy, checking as checked_batches:
        for checked in checked_batches:
            in_stage, in_quarantine = _stage(copy, theme, checked, load)
            staged += in_stage
            result.quarantined += in_quarantine
            found.update(checked.issues["rule"].value_counts().to_dict())
            result.input += len(checked.raw)
        copy.finish()
    # the file's checksum on a core of its own while PostgreSQL builds indexes or merges
    with ThreadPoolExecutor(1, thread_name_prefix="regiongis-sha256") as hasher:
        digest = hasher.submit(file_sha256, batches.path)
        merged = finish_load(cur, theme, load, staged)
    if merged.duplicates:
        found["duplicate-key"] += merged.duplicates
    result.loaded = staged - merged.duplicates
    result.quarantined += merged.duplicates
    result.issues = dict(found)
    result.inserted, result.updated = merged.inserted, merged.updated
    result.unchanged, result.retired = merged.unchanged, merged.retired
    _finish_run(cur, result, digest)
    return result


def ingest_file(
    url: str,
    path: Path,
    source: Source,
    region: Region,
    protocols: Protocols,
    *,
    progress: Progress | None = None,
    batch_size: int | None = None,
) -> RunResult:
    """Load one publisher file for one source, replacing that source's previous contribution.
    The run is recorded once the file has opened."""
    with transaction(url) as cur:
        ensure_schema(cur, list(protocols.themes.values()))
    with _opened(path, source, protocols, batch_size) as batches:
        conn = connect(url)
        try:
            run_id = _start_run(conn, batches, source, protocols.themes[source.theme])
            try:
                with conn, conn.cursor() as cur:
                    return _load(cur, batches, source, region, protocols, run_id, progress)
            except Exception as exc:
                _fail_run(url, run_id, str(exc), path)
                raise
        finally:
            conn.close()


def ingest_region(url: str, region: Region, protocols: Protocols) -> list[RunResult]:
    """Ingest every configured source from the region's data folder."""
    return [
        ingest_file(url, region.data_dir / source.file, source, region, protocols)
        for source in region.sources.values()
    ]
