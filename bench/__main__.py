"""`python -m bench [name ...]`: run the named benchmarks (all by default)."""

from __future__ import annotations

import argparse
import importlib

BENCHMARKS = ["ingest", "serve", "boundaries", "map_first_tile", "tiles", "uploads"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("names", nargs="*", metavar="name", help=f"one of {BENCHMARKS}")
    parser.add_argument("--points", type=int, default=500_000, help="points in the ingest file")
    parser.add_argument("--lines", type=int, default=100_000, help="lines in the ingest file")
    parser.add_argument("--polygons", type=int, default=100_000, help="polygons in the ingest file")
    parser.add_argument(
        "--rss", action="store_true", help="also ingest and check 5,000,000 points: peak RSS"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="ingest: first loads timed this many times, ours and the peer's in turn (medians)",
    )
    args = parser.parse_args()
    if unknown := set(args.names) - set(BENCHMARKS):
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; choose from {BENCHMARKS}")
    for name in args.names or BENCHMARKS:
        importlib.import_module(f"bench.{name}").run(args)


if __name__ == "__main__":
    main()
