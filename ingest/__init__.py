"""Ingest: read a publisher's file, harmonise it to its protocol, validate it, load it."""
