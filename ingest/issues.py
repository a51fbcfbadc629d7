"""The issue log: one row per problem, by feature and field, with the value the publisher sent."""

from __future__ import annotations

from enum import StrEnum

import pandas as pd

COLUMNS = ["row", "field", "rule", "severity", "message", "value"]
# a repeated key or unique value: the message names the feature that had it first
REPEAT_BEFORE = "the same {what} as feature "
REPEAT_AFTER = " earlier in this file; give each feature its own value"


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
    message: str | pd.Series,
    severity: Severity = Severity.ERROR,
) -> pd.DataFrame:
    """Issue rows for every feature where mask holds, carrying the original value as text.

    message is one sentence for all, or a Series of sentences by row (e.g. naming another row).
    """
    rows = mask.index[mask.fillna(False).astype(bool)]
    if rows.empty:
        return empty()  # the usual case
    values = original.loc[rows].astype(str) if original is not None else pd.Series("", index=rows)
    if not isinstance(message, str):
        message = message.loc[rows].to_numpy()
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


# What a publisher should do about each rule, for reports; the issue's own message is specific.
FIXES = {
    "required": "Fill in the field for every feature.",
    "code-value": "Use a value from the code list, or ask the partnership to map your value "
    "onto it in the source's mapping (fields.<name>.values).",
    "date-value": "Write dates in the format the mapping names, or ask for the format to be added.",
    "datetime-value": "Write dates and times in the format the mapping names.",
    "integer-value": "Write a whole number, digits only.",
    "decimal-value": "Write a number, digits and a decimal point only.",
    "boolean-value": "Write yes or no.",
    "url-value": "Write a full web address starting http:// or https://.",
    "max-length": "Shorten the value to the length the protocol allows.",
    "minimum": "Correct the value: it is below what the protocol allows.",
    "maximum": "Correct the value: it is above what the protocol allows.",
    "pattern": "Write the value in the form the protocol requires.",
    "unique": "Give each feature its own value; remove duplicated features.",
    "duplicate-key": "Give each feature its own identifier; remove duplicated features.",
    "date-order": "Correct the dates so the end is not before the start.",
    "date-range": "Check the year: the date is implausibly far in the past or future.",
    "deprecated-code": "Use the current code named in the message for new and updated records.",
    "filtered-out": "Nothing: the mapping leaves these rows out on purpose.",
    "crs-mismatch": "Declare the coordinate system the coordinates are really in "
    "(the .prj file, or `crs:` in the source's mapping).",
    "geometry-missing": "Give every feature a location.",
    "geometry-coordinates": "Replace non-numeric coordinates (NaN, infinity) with real ones.",
    "geometry-type": "Send the kind of geometry the protocol asks for.",
    "out-of-region": "Check the coordinates and the coordinate system the file declares.",
    "geometry-repaired": "Nothing needed now; fix the geometry at source to avoid the repair.",
    "geometry-dimension": "Nothing needed: Z/M values are not used and were dropped.",
    "geometry-multi": "Nothing needed: the geometry was stored as the kind the protocol wants.",
}


def fix_for(rule: str) -> str:
    """The advice for a rule; type rules share theirs with the other fields of their type."""
    return FIXES.get(rule, "Correct the value as the message says.")


_EMPTY = pd.DataFrame(columns=COLUMNS)


def empty() -> pd.DataFrame:
    """No issues: a shallow copy of one empty frame, a tenth of the cost of building one (most
    checks of most batches find nothing)."""
    return _EMPTY.copy(deep=False)


def concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else empty()


def rows_with_errors(issues: pd.DataFrame) -> pd.Index:
    return pd.Index(issues.loc[issues["severity"] == Severity.ERROR, "row"].unique())


def reasons_by_row(issues: pd.DataFrame) -> pd.Series:
    """One human sentence per quarantined row, joining every error it had. Most rows have one:
    joining in Python only where there are more keeps a batch of 65,536 wrong features from
    costing half a second."""
    errors = issues[issues["severity"] == Severity.ERROR]
    several = errors["row"].duplicated(keep=False)
    reasons = errors.loc[~several].set_index("row")["message"]
    if several.any():
        joined = errors.loc[several].groupby("row")["message"].agg("; ".join)
        reasons = pd.concat([reasons, joined])
    return reasons.sort_index()
