"""Benchmarks: ours against a named peer, same data, same machine, same run."""
