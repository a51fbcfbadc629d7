"""The binary COPY encoder writes what PostgreSQL itself would store."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ingest import pgbinary

NUMBERS = [0.0, -0.0, 3.0, 2.5, -2.5, 0.1, 0.0001, 0.00012345, 123456789.123, 1e20, 1.5e-10]
NUMBERS += [-1234.5678, 10000.0, 9999.99999, 1e-15, 123456789012345678.0, 1 / 3, None]


def test_numeric_fields_read_back_as_postgresqls_own_cast_from_double_precision(db) -> None:
    db.execute("CREATE TEMPORARY TABLE numbers (at integer, value numeric)")
    columns = [("integer", pa.array(range(len(NUMBERS)))), ("numeric", pa.array(NUMBERS))]
    db.copy_expert("COPY numbers FROM STDIN (FORMAT binary)", pgbinary.encode(columns))
    db.execute("SELECT array_agg(value::text ORDER BY at) FROM numbers")
    stored = db.fetchone()[0]
    db.execute(
        "SELECT array_agg(v::numeric::text ORDER BY o) FROM unnest(%s::float8[]) "
        "WITH ORDINALITY AS t(v, o)",
        (NUMBERS,),
    )
    assert stored == db.fetchone()[0]


def test_numbers_encoded_together_are_encoded_as_each_alone() -> None:
    """numpy finds most values' digits at once (those _numeric was checked against PostgreSQL
    for above); every magnitude and number of decimals, and 17-digit values, agree with it."""
    rng = np.random.default_rng(15)
    magnitudes = 10.0 ** rng.integers(-12, 16, 20_000)
    rounded = np.round(rng.uniform(-1, 1, 20_000) * magnitudes, rng.integers(0, 12))
    values = np.concatenate([rounded, rng.normal(0, 1e3, 2_000), np.array(NUMBERS[:-1])])
    together = pgbinary._numeric_array(values).to_pylist()
    assert together == [pgbinary._numeric(v) for v in values]
