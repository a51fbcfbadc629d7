"""The issue log: one row per problem, by feature and field, with the value the publisher sent."""

from __future__ import annotations

from enum import StrEnum

import pandas as pd

COLUMNS = ["row", "field", "rule", "severity", "message", "value"]


class Severity(StrEnum):
    ERROR = "error"  # the feature goes to quarantine
    WARNING = "warning"  # the feature loads, flagged
    FIXED = "fixed"  # the feature loads, repaired; the repair is recorded


def issues_where(
    mask: pd.Series,
    original: pd.Series | None,
    *,
    field: str,
    rule: str,
    message: str,
    severity: Severity = Severity.ERROR,
) -> pd.DataFrame:
    """Issue rows for every feature where mask holds, carrying the original value as text."""
    rows = mask.index[mask.fillna(False).astype(bool)]
    values = original.loc[rows].astype(str) if original is not None else pd.Series("", index=rows)
    return pd.DataFrame(
        {
            "row": rows,
            "field": field,
            "rule": rule,
            "severity": str(severity),
            "message": message,
            "value": values.to_numpy(),
        },
        columns=COLUMNS,
    )


def empty() -> pd.DataFrame:
    return pd.DataFrame(columns=COLUMNS)


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else empty()


def rows_with_errors(issues: pd.DataFrame) -> pd.Index:
    return pd.Index(issues.loc[issues["severity"] == Severity.ERROR, "row"].unique())


def reasons_by_row(issues: pd.DataFrame) -> pd.Series:
    """One human sentence per quarantined row, joining every error it had."""
    errors = issues[issues["severity"] == Severity.ERROR]
    return errors.groupby("row")["message"].agg("; ".join)
