"""Loads ask the garbage collector to run less often, and put it back as it was."""

from __future__ import annotations

import gc

from ingest.collector import FIRST_GENERATION, collecting_less


def test_overlapping_loads_restore_the_collector_once_the_last_one_ends() -> None:
    before = gc.get_threshold()
    first, second = collecting_less(), collecting_less()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # loads in two threads need not end in order
    assert gc.get_threshold()[0] >= FIRST_GENERATION
    second.__exit__(None, None, None)
    assert gc.get_threshold() == before
