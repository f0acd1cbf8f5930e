"""The examples in these docstrings draw pictures: they need matplotlib (the `plot` extra)."""

from gradwork.plots import available

collect_ignore_glob = [] if available() else ["*.py"]
