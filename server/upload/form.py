"""A multipart/form-data body streamed straight to disk, counted and hashed as it arrives.

Starlette's own form parser spools files without a size limit; here the file part is written
chunk by chunk and refused the moment it passes the cap, so an oversized upload never fills the
disk. Fields may come before or after the file; when they come first (as the upload page sends
them) `on_file` can refuse a forbidden upload before a byte of the file is stored.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from python_multipart.multipart import MultipartParser, parse_options_header

from server.access.refusals import Refused, TooLarge

FILE_FIELD = "file"
MAX_FIELD_BYTES = 1024
MAX_FIELDS = 8
FORM_SLACK = 64 * 1024  # multipart boundaries and small fields around the file
DRAIN_BYTES = 64 * 1024**2  # read (never store) this much past a refusal so the client sees it
UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Received:
    fields: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None
    path: Path | None = None
    size: int = 0
    sha256: str = ""


def safe_file_name(name: str) -> str:
    """The last path component, in characters every filesystem and shell takes literally."""
    base = PurePosixPath(name.replace("\\", "/")).name
    cleaned = UNSAFE_NAME_CHARS.sub("_", base).lstrip(".")[-120:]
    return cleaned or "upload"


class _FormState:
    """The parser's callbacks: which part we are in, and where its bytes go."""

    def __init__(self, folder: Path, max_bytes: int, on_file: Callable[[dict[str, str]], None]):
        self.folder, self.max_bytes, self.on_file = folder, max_bytes, on_file
        self.received = Received()
        self.digest = hashlib.sha256()
        self.header_name = self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.name = ""
        self.value = bytearray()
        self.out: IO[bytes] | None = None

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value_data,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self.headers, self.value = {}, bytearray()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def header_value_data(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def header_end(self) -> None:
        self.headers[self.header_name.lower()] = self.header_value
        self.header_name = self.header_value = b""

    def headers_finished(self) -> None:
        _, params = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.name = params.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in params:
            if len(self.received.fields) >= MAX_FIELDS:
                raise Refused("too many form fields: send `file`, `source` and `dry_run` only")
            return
        if self.name != FILE_FIELD or self.received.path is not None:
            raise Refused("send exactly one file, in the form field `file`")
        self.on_file(self.received.fields)
        name = safe_file_name(params[b"filename"].decode("utf-8", "replace"))
        self.received.file_name, self.received.path = name, self.folder / name
        self.out = self.received.path.open("wb")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.out is None:
            self.value += data[start:end]
            if len(self.value) > MAX_FIELD_BYTES:
                raise Refused(
                    f"the form field {self.name!r} is longer than {MAX_FIELD_BYTES} bytes"
                )
            return
        self.received.size += end - start
        if self.received.size > self.max_bytes:
            raise self.too_large()
        self.out.write(data[start:end])
        self.digest.update(data[start:end])

    def too_large(self) -> TooLarge:
        return TooLarge(
            f"the file is larger than this server accepts ({self.max_bytes:,} bytes); "
            "split it, or ask the administrator to raise RGIS_UPLOAD_MAX_BYTES"
        )

    def part_end(self) -> None:
        if self.out is not None:
            self.out.close()
            self.out = None
        else:
            self.received.fields[self.name] = self.value.decode("utf-8", "replace").strip()

    def close(self) -> None:
        if self.out is not None:
            self.out.close()


async def receive_form(
    content_type: str,
    content_length: int,
    body: AsyncIterator[bytes],
    folder: Path,
    max_bytes: int,
    on_file: Callable[[dict[str, str]], None],
) -> Received:
    """Parse the body into folder; on any refusal the rest of the body is drained, not kept."""
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise Refused("send the upload as multipart/form-data with the fields `file` and `source`")
    state = _FormState(folder, max_bytes, on_file)
    parser = MultipartParser(params[b"boundary"], state.callbacks())
    try:
        if content_length > max_bytes + FORM_SLACK:
            raise state.too_large()
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
    except Refused:
        state.close()
        await _drain(body)
        raise
    finally:
        state.close()
    state.received.sha256 = state.digest.hexdigest()
    return state.received


async def _drain(body: AsyncIterator[bytes]) -> None:
    """Read what the client is still sending, so it hears the refusal instead of a reset."""
    drained = 0
    async for chunk in body:
        drained += len(chunk)
        if drained > DRAIN_BYTES:
            return
