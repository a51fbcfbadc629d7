"""What the API and the page show of a job: its state, progress, counts and issues by rule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

COUNTS = ["input", "loaded", "quarantined", "inserted", "updated", "unchanged", "retired"]
REPORT_HEADERS = {
    # the ingest's report is self-contained: inline styles and SVG, never a script or a fetch
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "X-Content-Type-Options": "nosniff",
}


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def job_json(row: dict[str, Any], report_url: str) -> dict[str, Any]:
    result = row["result"] or {}
    return {
        "id": row["id"],
        "kind": row["kind"],
        "source": row["source"],
        "status": row["status"],
        "phase": row["phase"],
        "progress": round(row["progress"], 3),
        "attempts": row["attempts"],
        "file": {"name": row["file_name"], "bytes": row["file_bytes"]},
        "created_at": _when(row["created_at"]),
        "started_at": _when(row["started_at"]),
        "finished_at": _when(row["finished_at"]),
        "message": row["message"],
        "summary": {k: result[k] for k in COUNTS if k in result} if result else None,
        "issues": result.get("issues", {}),
        "rules": result.get("rules", []),
        "report": report_url if row["has_report"] else None,
    }
