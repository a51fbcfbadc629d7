"""PostgreSQL binary COPY, built column by column with Arrow kernels.

Text COPY makes PostgreSQL parse every value (hex EWKB above all) and costs about half the load
time; a per-row Python encoder is slower still. Here each column becomes one Arrow array of
ready-made binary fields (a 4-byte length, then the value in network byte order) and the rows are
joined element-wise in C, so the COPY stream is one contiguous buffer per batch.
"""

from __future__ import annotations

import struct
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8  # signature, flags, header-extension length
TRAILER = b"\xff\xff"
NULL = b"\xff\xff\xff\xff"
PG_EPOCH_DAYS = 10_957  # 2000-01-01 in days since 1970-01-01
PG_EPOCH_US = 946_684_800_000_000
NUMERIC_NEGATIVE = 0x4000


def _as_fields(prefixes: np.ndarray, payload: pa.Array) -> pa.Array:
    """Each value with its 4-byte big-endian length in front; NULL as length -1 alone."""
    n = len(payload)
    heads = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(4), n, [None, pa.py_buffer(prefixes.astype(">i4").tobytes())]
    ).cast(pa.binary())
    return pc.binary_join_element_wise(heads, payload.fill_null(b""), b"")


def _fixed(values: np.ndarray, valid: np.ndarray) -> pa.Array:
    width = values.dtype.itemsize
    if valid.all():  # the usual case: length and value laid out side by side by numpy at once
        fields = np.empty(len(values), dtype=[("length", ">i4"), ("value", values.dtype)])
        fields["length"], fields["value"] = width, values
        return pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(4 + width), len(values), [None, pa.py_buffer(fields)]
        ).cast(pa.binary())
    payload = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), len(values), [None, pa.py_buffer(values.tobytes())]
    ).cast(pa.binary())
    payload = pc.if_else(pa.array(valid), payload, pa.scalar(b"", pa.binary()))
    return _as_fields(np.where(valid, width, -1), payload)


def _variable(values: pa.Array) -> pa.Array:
    values = values.cast(pa.binary())
    lengths = pc.binary_length(values).to_numpy(zero_copy_only=False)
    return _as_fields(
        np.where(values.is_valid().to_numpy(zero_copy_only=False), lengths, -1), values
    )


def _numbers(values: pa.Array, big_endian: str) -> pa.Array:
    valid = values.is_valid().to_numpy(zero_copy_only=False)
    raw = values.fill_null(0).to_numpy(zero_copy_only=False)
    return _fixed(raw.astype(big_endian), valid)


def _dates(values: pa.Array) -> pa.Array:
    days = pc.cast(pc.cast(values, pa.date32()), pa.int32())
    return _numbers(pc.subtract(days, PG_EPOCH_DAYS), ">i4")


def _timestamps(values: pa.Array) -> pa.Array:
    if not pa.types.is_timestamp(values.type) or values.type.tz is None:
        values = pc.assume_timezone(pc.cast(values, pa.timestamp("us")), "UTC")
    micros = pc.cast(pc.cast(values, pa.timestamp("us", tz="UTC")), pa.int64())
    return _numbers(pc.subtract(micros, PG_EPOCH_US), ">i8")


def _jsonb(values: pa.Array) -> pa.Array:
    """jsonb's binary form is a version byte (1) and then the JSON text."""
    return _variable(pc.binary_join_element_wise(b"\x01", values.cast(pa.binary()), b""))


def _numeric(value: float) -> bytes:
    """numeric's binary form of value as PostgreSQL's float8-to-numeric cast makes it (to 15
    significant digits, as %.15g writes it): digit count, weight, sign, display scale, then the
    digits in base 10,000 with the decimal point on a digit boundary."""
    negative, digits, exponent = Decimal(format(value, ".15g")).as_tuple()
    text = "".join(map(str, digits))
    if exponent >= 0:
        whole, fraction = text + "0" * exponent, ""
    else:
        whole, fraction = text[:exponent], text[exponent:].rjust(-exponent, "0")
    whole = whole.rjust(-(-len(whole) // 4) * 4, "0")
    fraction = fraction.ljust(-(-len(fraction) // 4) * 4, "0")
    groups = [int(whole[i : i + 4]) for i in range(0, len(whole), 4)]
    groups += [int(fraction[i : i + 4]) for i in range(0, len(fraction), 4)]
    weight = len(whole) // 4 - 1
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    sign = NUMERIC_NEGATIVE if negative and groups else 0
    weight = weight if groups else 0
    head = struct.pack(">hhHH", len(groups), weight, sign, max(0, -exponent))
    return head + struct.pack(f">{len(groups)}h", *groups)


NUMERIC_FIELDS = np.dtype([(n, ">i2") for n in ("ndigits", "weight", "sign", "dscale")])
NUMERIC_GROUPS = 5  # base-10,000 digits of an integer below 10**20
DIGITS = 15  # %.15g
POWERS = 10.0 ** np.arange(DIGITS + 1)


def _fixed_point(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each |value| as an integer and the fewest decimals that give the value back exactly,
    and where there are such within 15 significant digits: there, %.15g writes just those
    digits (a double's shortest decimal of up to 15 digits is also its nearest of 15)."""
    magnitude = np.abs(values)
    scale = np.full(len(values), -1)
    whole = np.zeros(len(values), np.int64)
    with np.errstate(over="ignore", invalid="ignore"):
        for decimals in range(DIGITS + 1):
            open_ = scale < 0
            scaled = np.round(magnitude[open_] * POWERS[decimals])
            exact = (scaled < 10.0**DIGITS) & (scaled / POWERS[decimals] == magnitude[open_])
            at = np.flatnonzero(open_)[exact]
            scale[at], whole[at] = decimals, scaled[exact].astype(np.int64)
            if not (scale < 0).any():
                break
    return whole, scale, scale >= 0


def _numeric_array(values: np.ndarray) -> pa.Array:
    """_numeric for many values at once, by numpy, where _fixed_point finds their digits; the
    rest (beyond 15 significant digits: 1e20, 1/3) one by one."""
    whole, scale, done = _fixed_point(values)
    fraction_groups = -(-scale // 4)
    aligned = whole * 10 ** (fraction_groups * 4 - scale)  # the point on a group boundary
    groups = aligned[:, None] // 10_000 ** np.arange(NUMERIC_GROUPS) % 10_000  # lowest first
    present = groups != 0
    top = NUMERIC_GROUPS - 1 - np.argmax(present[:, ::-1], axis=1)
    low = np.argmax(present, axis=1)
    count = np.where(present.any(axis=1), top - low + 1, 0)
    record = np.zeros(len(values), [("head", NUMERIC_FIELDS), ("digits", ">i2", NUMERIC_GROUPS)])
    head = record["head"]
    head["ndigits"], head["dscale"] = count, np.maximum(scale, 0)
    head["weight"] = np.where(count > 0, top - fraction_groups, 0)
    head["sign"] = np.where((count > 0) & (values < 0), NUMERIC_NEGATIVE, 0)
    order = top[:, None] - np.arange(NUMERIC_GROUPS)  # highest group first
    record["digits"] = np.take_along_axis(groups, np.clip(order, 0, None), axis=1)
    lengths = NUMERIC_FIELDS.itemsize + 2 * count
    kept = np.arange(record.itemsize) < lengths[:, None]
    data = record.view(np.uint8).reshape(len(values), record.itemsize)[kept]
    offsets = np.r_[0, np.cumsum(lengths)].astype(np.int32)
    encoded = pa.BinaryArray.from_buffers(
        pa.binary(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    if done.all():
        return encoded
    rest = np.full(len(values), None, object)
    rest[~done] = [_numeric(v) for v in values[~done]]
    return pc.if_else(pa.array(done), encoded, pa.array(rest, pa.binary()))


def _numerics(values: pa.Array) -> pa.Array:
    """Each distinct value encoded once, then taken for every row."""
    coded = pc.dictionary_encode(pc.cast(values, pa.float64()))
    encoded = _numeric_array(coded.dictionary.to_numpy(zero_copy_only=False))
    return _variable(encoded.take(coded.indices))


ENCODERS = {
    "jsonb": _jsonb,
    "text": _variable,
    "bytea": _variable,
    "geometry": _variable,  # PostGIS receives WKB; the column's SRID typmod fills in its SRID
    "bigint": lambda v: _numbers(pc.cast(v, pa.int64()), ">i8"),
    "integer": lambda v: _numbers(pc.cast(v, pa.int32()), ">i4"),
    "double precision": lambda v: _numbers(pc.cast(v, pa.float64()), ">f8"),
    "numeric": _numerics,
    "boolean": lambda v: _numbers(pc.cast(v, pa.uint8()), "u1"),
    "date": _dates,
    "timestamptz": _timestamps,
}


def _contiguous(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """pandas' Arrow-backed strings arrive chunked; the kernels here want one array."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


class Stream:
    """The COPY stream as a file to read (what psycopg2's copy_expert wants), straight from the
    Arrow buffer of joined rows: copying tens of megabytes into a BytesIO first costs as much
    as encoding a column."""

    def __init__(self, rows: pa.BinaryArray) -> None:
        body = memoryview(b"")
        if len(rows):
            offsets = np.frombuffer(rows.buffers()[1], np.int32)
            start, end = offsets[[rows.offset, rows.offset + len(rows)]]
            body = memoryview(rows.buffers()[2])[start:end]
        self._rows = rows  # keeps the buffer body points into alive
        self._parts = [memoryview(HEADER), body, memoryview(TRAILER)]

    def read(self, size: int = -1) -> bytes:
        while self._parts and not self._parts[0]:
            self._parts.pop(0)
        if not self._parts:
            return b""
        part = self._parts[0]
        size = len(part) if size < 0 else size
        self._parts[0] = part[size:]
        return part[:size].tobytes()


Values = pa.Array | pa.ChunkedArray | pa.Scalar
"""A column's values, or one value for every row (a run's provenance)."""


def _field(pg_type: str, values: Values) -> pa.Array | pa.Scalar:
    """A column's binary fields; a scalar's is encoded once and joined to every row."""
    if isinstance(values, pa.Scalar):
        return ENCODERS[pg_type](pa.array([values.as_py()], values.type))[0]
    return ENCODERS[pg_type](_contiguous(values))


def encode(columns: list[tuple[str, Values]]) -> Stream:
    """The COPY ... (FORMAT binary) stream for rows given as (PostgreSQL type, values) columns,
    at least one of them an array."""
    count = struct.pack("!h", len(columns))
    fields = [_field(pg_type, values) for pg_type, values in columns]
    return Stream(pc.binary_join_element_wise(count, *fields, b""))
