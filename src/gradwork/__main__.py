"""`python -m gradwork ...` runs the command line (the same as `gradwork ...`)."""

import sys

from gradwork.cli import main

if __name__ == "__main__":
    sys.exit(main())
