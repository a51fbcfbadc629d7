"""Values met in a file's earlier batches, so that a rule about repeats (duplicate keys, unique
fields) holds across the whole file while only one batch of it is in memory.

A Python set of 5,000,000 keys takes ~500 MB; this keeps each value once, in Arrow, beside its
64-bit hash and the row it was first met in (~20 bytes plus the value's length), in a few runs
sorted by hash. Each batch becomes a run; a run is merged into the one before it once it has
grown to half that one's size, so a file of n values makes O(log n) runs and each value is
re-sorted O(log n) times (a log-structured merge). A lookup is a binary search per run, and a hash
that matches is confirmed by comparing the values themselves: two values that share a hash are
not taken for a repeat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

MISSING = -1


@dataclass(frozen=True)
class _Run:
    hashes: np.ndarray  # uint64, ascending
    rows: np.ndarray  # int64, the row each value was first met in
    values: pa.Array  # strings, in the same order

    @classmethod
    def sorted(cls, hashes: np.ndarray, rows: np.ndarray, values: pa.Array) -> _Run:
        order = np.argsort(hashes, kind="stable")
        return cls(hashes[order], rows[order], values.take(order))

    def merged(self, newer: _Run) -> _Run:
        return _Run.sorted(
            np.concatenate([self.hashes, newer.hashes]),
            np.concatenate([self.rows, newer.rows]),
            pa.concat_arrays([self.values, newer.values]),
        )

    def find(self, hashes: np.ndarray, values: pa.Array, found: np.ndarray) -> None:
        """Fill found (where it is still MISSING) with the first row of each value held here."""
        at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        candidates = np.flatnonzero((found == MISSING) & (self.hashes[at] == hashes))
        if not len(candidates):
            return
        same = pc.equal(self.values.take(at[candidates]), values.take(candidates))
        confirmed = candidates[same.to_numpy(zero_copy_only=False)]
        found[confirmed] = self.rows[at[confirmed]]


class SeenValues:
    """The values of one column met so far in a file, with the row each was first met in."""

    def __init__(self) -> None:
        self._runs: list[_Run] = []

    def first_rows(self, values: pd.Series) -> pd.Series:
        """For each value an earlier batch had, the row it was first met in (indexed by the rows
        repeating it; missing values repeat nothing); then this batch's new values are kept.
        Call once a batch, in file order."""
        present = values.dropna()
        if present.empty:
            return pd.Series(dtype="int64")
        objects = present.to_numpy(dtype=object)
        batch = _Run.sorted(  # in hash order, so each run's binary searches walk forwards
            pd.util.hash_array(objects, categorize=False),
            present.index.to_numpy(np.int64),
            pa.array(objects, type=pa.string()),
        )
        found = np.full(len(batch.rows), MISSING, np.int64)
        for run in self._runs:
            run.find(batch.hashes, batch.values, found)
        # a batch's own repeats are validate's to report: only the first of them is kept
        new = (found == MISSING) & np.r_[True, batch.hashes[1:] != batch.hashes[:-1]]
        if new.any():
            self._keep(_Run(batch.hashes[new], batch.rows[new], batch.values.filter(new)))
        repeats = found != MISSING
        return pd.Series(found[repeats], index=batch.rows[repeats], dtype="int64").sort_index()

    def _keep(self, run: _Run) -> None:
        self._runs.append(run)
        while len(self._runs) > 1 and 2 * len(self._runs[-1].rows) >= len(self._runs[-2].rows):
            newer = self._runs.pop()
            self._runs.append(self._runs.pop().merged(newer))
