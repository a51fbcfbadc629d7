"""Shared protocols: the versioned theme specs and code lists a regional partnership agrees on."""

from protocols.spec import (
    CodeList,
    FieldSpec,
    FieldType,
    ProtocolError,
    Protocols,
    ThemeSpec,
    load_protocols,
    read_yaml,
)

__all__ = [
    "CodeList",
    "FieldSpec",
    "FieldType",
    "ProtocolError",
    "Protocols",
    "ThemeSpec",
    "load_protocols",
    "read_yaml",
]
