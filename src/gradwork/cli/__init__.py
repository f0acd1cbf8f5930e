"""The `gradwork` command line (train/evaluate/tune/report): parse, load TOML, call the library."""

import sys


def main(argv: list[str] | None = None) -> int:
    print("gradwork: the command line is not built yet", file=sys.stderr)
    return 2
