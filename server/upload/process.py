"""What a worker does with an upload job: check or ingest the dataset, and report on it.

The ingest pipeline is used as a black box (ingest_file / check_file), and so is its report
(ingest.report): the job keeps the counts, the issues by rule with examples and fixes, and the
report's self-contained HTML, so any web server can show it whichever machine ran the job.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from ingest import report
from ingest.boundaries import check_after_ingest
from ingest.errors import ConfigError, UnreadableInput
from ingest.pipeline import check_file, ingest_file
from ingest.region import Region, Source
from server.deployment import Deployment
from server.jobs import Job, Outcome, Progress

READ_SHARE = 0.85


def _map_bbox(region: Region, deployment: Deployment, source: Source) -> tuple | None:
    """The region's outline for the report map, when it is in the theme's storage CRS."""
    same_crs = region.region.bbox_crs == deployment.protocols.themes[source.theme].storage_crs
    return region.region.bbox if same_crs else None


def _outcome(counts: dict, built: report.Report) -> Outcome:
    return Outcome(counts | {"rules": built.rules()}, built.to_html())


def _reading(progress: Progress, doing: str) -> Callable[[int, int | None], None]:
    """The pipeline's batch-by-batch progress as the job's, up to READ_SHARE of it: what comes
    after (the report, the checks across boundaries) moves the bar on, never back."""

    def read(done: int, total: int | None) -> None:
        share = READ_SHARE * done / total if total else None
        progress.update(share, f"{doing}: {done:,} features read")

    return read


def run_upload_job(deployment: Deployment, job: Job, progress: Progress) -> Outcome:
    region, protocols = deployment.region, deployment.protocols
    source = region.sources.get(job.source)
    if source is None:
        raise ConfigError(f"source {job.source} is no longer configured on this worker")
    path = Path(job.dataset_path)
    if not path.exists():
        raise UnreadableInput(
            f"the upload is not at {path} on this worker; workers on other machines need "
            "RGIS_UPLOAD_DIR on storage shared with the web server"
        )
    bbox = _map_bbox(region, deployment, source)
    if job.kind == "check":
        progress.update(0.02, "checking")
        dry = check_file(path, source, region, protocols, progress=_reading(progress, "checking"))
        progress.update(0.9, "writing the report")
        built = report.from_dry_run(dry, source, job.file_name, bbox)
        return _outcome(asdict(dry.result(source)), built)
    progress.update(0.02, "loading")
    result = ingest_file(
        deployment.database_url,
        path,
        source,
        region,
        protocols,
        progress=_reading(progress, "loading"),
    )
    progress.update(0.9, "checking across authority boundaries")
    check_after_ingest(
        deployment.database_url, region, protocols.themes[source.theme], result.run_id
    )
    progress.update(0.95, "writing the report")
    return _outcome(asdict(result), report.from_run(deployment.database_url, result.run_id, bbox))
