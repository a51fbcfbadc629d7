"""SeenValues specification: what a file's earlier batches held, for repeat rules that must hold
across the whole file while one batch of it is in memory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ingest.seen import SeenValues


def batch(values: list, start: int) -> pd.Series:
    """One batch's values, indexed by their rows in the file."""
    return pd.Series(values, index=range(start, start + len(values)), dtype="string")


def test_a_value_met_in_an_earlier_batch_names_the_row_it_was_first_met_in() -> None:
    seen = SeenValues()
    assert seen.first_rows(batch(["A", "B"], 0)).empty
    assert seen.first_rows(batch(["C", "B", "A"], 2)).to_dict() == {3: 1, 4: 0}


def test_a_batch_own_repeats_are_left_to_validate_and_its_first_is_remembered() -> None:
    seen = SeenValues()
    assert seen.first_rows(batch(["A", "A", "A"], 0)).empty
    assert seen.first_rows(batch(["A"], 3)).to_dict() == {3: 0}


def test_missing_values_repeat_nothing() -> None:
    seen = SeenValues()
    seen.first_rows(batch([None, "A"], 0))
    assert seen.first_rows(batch([None, None], 2)).empty


def test_a_repeat_is_found_however_many_batches_later() -> None:
    seen = SeenValues()
    for start in range(0, 3000, 3):  # a thousand batches: runs merge many times over
        assert seen.first_rows(batch([f"K{start + i}" for i in range(3)], start)).empty
    later = seen.first_rows(batch(["K0", "K1500", "K2999", "new"], 3000))
    assert later.to_dict() == {3000: 0, 3001: 1500, 3002: 2999}


def test_values_sharing_a_hash_are_not_taken_for_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pd.util, "hash_array", lambda values, **_: np.zeros(len(values), "u8"))
    seen = SeenValues()
    seen.first_rows(batch(["A"], 0))
    assert seen.first_rows(batch(["B"], 1)).empty
    assert seen.first_rows(batch(["A"], 2)).to_dict() == {2: 0}
